"""Constants of the ERP load: the four tables of docs/contract.md section 3 and where they land."""

from __future__ import annotations

from decimal import Decimal

from ingest.erp.helpers import ColumnSpec, TableSpec

PIPELINE_NAME = "recon_erp"
DATASET_NAME = "raw_erp"
SOURCE_NAME = "erp"
QUARANTINE_TABLE = "quarantine"
# One row per input and load: read and loaded, or unreadable and left at its last good load.
LOAD_LOG_TABLE = "load_log"

# Rows per arrow batch handed to dlt: big enough for speed, small enough for memory.
BATCH_ROWS = 100_000

ZERO = Decimal(0)

INVOICES = TableSpec(
    name="invoices",
    columns=(
        ColumnSpec("document_number", required=True),
        ColumnSpec("document_type", "choice", required=True, choices=("invoice", "credit_memo")),
        ColumnSpec("customer_number", required=True),
        ColumnSpec("customer_name"),
        ColumnSpec("customer_email"),
        ColumnSpec("document_date", "date", required=True),
        ColumnSpec("due_date", "date"),
        ColumnSpec("currency", "currency", required=True),
        # Positive for both invoices and credit memos (docs/contract.md section 3).
        ColumnSpec("amount", "amount", required=True, minimum=ZERO),
        ColumnSpec("status", "choice", choices=("open", "paid", "void")),
        ColumnSpec("external_reference"),
    ),
    key=("document_number",),
)

PAYMENTS = TableSpec(
    name="payments",
    columns=(
        ColumnSpec("payment_number", required=True),
        ColumnSpec("document_number"),
        ColumnSpec("payment_date", "date", required=True),
        ColumnSpec("currency", "currency", required=True),
        # Positive for a receipt, negative for a refund paid out.
        ColumnSpec("amount", "amount", required=True),
        ColumnSpec("payment_method"),
        ColumnSpec("memo"),
    ),
    key=("payment_number",),
)

GL_ENTRIES = TableSpec(
    name="gl_entries",
    columns=(
        ColumnSpec("journal_number", required=True),
        ColumnSpec("line_number", required=True),
        ColumnSpec("posting_date", "date", required=True),
        ColumnSpec("account_number", required=True),
        ColumnSpec("account_name"),
        ColumnSpec("debit", "amount", required=True, minimum=ZERO),
        ColumnSpec("credit", "amount", required=True, minimum=ZERO),
        ColumnSpec("currency", "currency", required=True),
        ColumnSpec("memo"),
        ColumnSpec("document_number"),
    ),
    key=("journal_number", "line_number"),
    # Exports often leave the side a line does not use empty: it reads as 0 (DECISIONLOG.md).
    zero_beside=(("debit", "credit"),),
)

GL_ACCOUNTS = TableSpec(
    name="gl_accounts",
    columns=(
        ColumnSpec("account_number", required=True),
        ColumnSpec("role", required=True),
    ),
    key=("account_number",),
    optional_input=True,
)

TABLES: tuple[TableSpec, ...] = (INVOICES, PAYMENTS, GL_ENTRIES, GL_ACCOUNTS)
