"""Constants of the decisions load: the team's past decisions (docs/contract.md section 3b)."""

from __future__ import annotations

from core.vocabulary import BANK_EXCEPTION_TYPES, DISPOSITIONS, EXCEPTION_TYPES
from ingest.erp.helpers import ColumnSpec, TableSpec

PIPELINE_NAME = "recon_decisions"
DATASET_NAME = "raw_decisions"
SOURCE_NAME = "decisions"

DECISIONS = ("confirmed", "rejected")

ERP_SIDE = ("erp_document_number", "erp_payment_number", "erp_journal_number")

# One decision per pair: the Stripe id with whichever ERP numbers are filled. The pair's values
# joined by `|` (empty where not relevant) are the surrogate key `match_decision_key`. A later row
# for the same pair is quarantined: to change a decision, edit its row (the load updates it).
MATCH_DECISIONS = TableSpec(
    name="match_decisions",
    columns=(
        ColumnSpec("stripe_object_id", required=True),
        *(ColumnSpec(name) for name in ERP_SIDE),
        ColumnSpec("decision", "choice", required=True, choices=DECISIONS),
        ColumnSpec("decided_at", "timestamp", required=True),
        ColumnSpec("decided_by"),
    ),
    key=("stripe_object_id", *ERP_SIDE),
    key_column="match_decision_key",
    one_of=ERP_SIDE,
    optional_input=True,
)

# One resolution per exception (object and type); a later row for the same exception is
# quarantined.
EXCEPTION_RESOLUTIONS = TableSpec(
    name="exception_resolutions",
    columns=(
        ColumnSpec("object_id", required=True),
        ColumnSpec("exception_type", "choice", required=True, choices=(*EXCEPTION_TYPES, *BANK_EXCEPTION_TYPES)),
        ColumnSpec("disposition", "choice", required=True, choices=DISPOSITIONS),
        ColumnSpec("resolved_at", "timestamp", required=True),
        ColumnSpec("resolved_by"),
        ColumnSpec("note"),
    ),
    key=("object_id", "exception_type"),
    optional_input=True,
)

TABLES: tuple[TableSpec, ...] = (MATCH_DECISIONS, EXCEPTION_RESOLUTIONS)
