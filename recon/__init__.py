"""The reconciliation warehouse: Stripe against the ERP, in dbt and SQL."""

import os

# A finance tool does not phone home: telemetry off for every library we drive,
# unless the user has decided otherwise in their own environment.
for _name, _value in (
    ("DO_NOT_TRACK", "1"),
    ("RUNTIME__DLTHUB_TELEMETRY", "false"),
    ("GX_ANALYTICS_ENABLED", "false"),
    ("DBT_SEND_ANONYMOUS_USAGE_STATS", "false"),
):
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
