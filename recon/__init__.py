"""The reconciliation warehouse: Stripe against the ERP, in dbt and SQL.

The top layer: the command line, the pipeline, the webhook service and the demo command.
"""

__version__ = "0.1.0"
