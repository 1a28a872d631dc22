"""Constants of the bank statements' load: where they land and the columns of each table."""

from __future__ import annotations

from typing import Any

PIPELINE_NAME = "recon_bank"
DATASET_NAME = "raw_bank"
SOURCE_NAME = "bank"
STATEMENTS_TABLE = "statements"
LINES_TABLE = "statement_lines"
QUARANTINE_TABLE = "quarantine"
LOAD_LOG_TABLE = "load_log"


def _col(name: str, data_type: str, nullable: bool = True, **extra: Any) -> dict[str, Any]:
    return {"name": name, "data_type": data_type, "nullable": nullable, **extra}


_LOADED = {
    "_source": _col("_source", "text", False),
    "_loaded_at": _col("_loaded_at", "timestamp", False, timezone=True),
}

STATEMENT_COLUMNS: dict[str, dict[str, Any]] = {
    "statement_key": _col("statement_key", "text", False),
    "statement_id": _col("statement_id", "text", False),
    "account": _col("account", "text", False),
    "currency": _col("currency", "text", False),
    "source": _col("source", "text", False),
    "file_format": _col("file_format", "text", False),
    "from_date": _col("from_date", "date"),
    "to_date": _col("to_date", "date"),
    "opening_balance_minor": _col("opening_balance_minor", "bigint"),
    "closing_balance_minor": _col("closing_balance_minor", "bigint"),
    "line_count": _col("line_count", "bigint", False),
    "quarantined_line_count": _col("quarantined_line_count", "bigint", False),
    **_LOADED,
}

LINE_COLUMNS: dict[str, dict[str, Any]] = {
    "line_id": _col("line_id", "text", False),
    "statement_key": _col("statement_key", "text", False),
    "statement_id": _col("statement_id", "text", False),
    "account": _col("account", "text", False),
    "source": _col("source", "text", False),
    "file_format": _col("file_format", "text", False),
    "position": _col("position", "bigint", False),
    "line": _col("line", "bigint", False),
    "currency": _col("currency", "text", False),
    "amount_minor": _col("amount_minor", "bigint", False),
    "booking_date": _col("booking_date", "date"),
    "value_date": _col("value_date", "date"),
    "bank_reference": _col("bank_reference", "text"),
    "customer_reference": _col("customer_reference", "text"),
    "end_to_end_id": _col("end_to_end_id", "text"),
    "description": _col("description", "text"),
    "type_code": _col("type_code", "text"),
    **_LOADED,
}

LOAD_LOG_COLUMNS: dict[str, dict[str, Any]] = {
    "table_name": _col("table_name", "text", False),
    "source": _col("source", "text", False),
    "status": _col("status", "text", False),
    "reason": _col("reason", "text"),
    "loaded_at": _col("loaded_at", "timestamp", False),
}
