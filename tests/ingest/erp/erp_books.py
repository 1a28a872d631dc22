"""The small ERP books the tests load: every kind of bad row, with its expected reason."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import duckdb

from core.settings import Settings

Table = tuple[list[str], list[list[str]]]

# The books: one header and rows per table. Line numbers in comments (the header is line 1).
INVOICES: Table = (
    # customer_email (optional) is missing; region is an extra column.
    [
        "document_number",
        "document_type",
        "customer_number",
        "customer_name",
        "document_date",
        "due_date",
        "currency",
        "amount",
        "status",
        "external_reference",
        "region",
    ],
    [
        [
            "INV-1",
            "invoice",
            "C1",
            "Acme",
            "2025-01-02",
            "2025-02-01",
            "USD",
            "100.50",
            "open",
            "ch_1",
            "west",
        ],  # 2
        [
            "INV-2",
            "invoice",
            "C2",
            "Kuwait Co",
            "2025-01-03",
            "",
            "KWD",
            "12.345",
            "open",
            "",
            "",
        ],  # 3
        [
            "CM-1",
            "credit_memo",
            "C3",
            "Tokyo KK",
            "2025-01-04",
            "",
            "jpy",
            "4800",
            "paid",
            "",
            "east",
        ],  # 4
        [
            "INV-3",
            "invoice",
            "C4",
            "Bad amount",
            "2025-01-04",
            "",
            "USD",
            "1,2O4.50",
            "open",
            "",
            "",
        ],  # 5
        [
            "INV-4",
            "invoice",
            "C5",
            "Bad date",
            "2025/01/04",
            "",
            "USD",
            "1.00",
            "open",
            "",
            "",
        ],  # 6
        [
            "INV-5",
            "invoice",
            "C6",
            "Bad currency",
            "2025-01-04",
            "",
            "XYZ",
            "1.00",
            "open",
            "",
            "",
        ],  # 7
        [
            "INV-1",
            "invoice",
            "C1",
            "Duplicate",
            "2025-01-02",
            "",
            "USD",
            "1.00",
            "open",
            "",
            "",
        ],  # 8
        [
            "INV-6",
            "receipt",
            "C7",
            "Bad type",
            "2025-01-04",
            "",
            "USD",
            "1.00",
            "open",
            "",
            "",
        ],  # 9
        [
            "INV-7",
            "invoice",
            "C8",
            "JPY cents",
            "2025-01-04",
            "",
            "JPY",
            "10.5",
            "open",
            "",
            "",
        ],  # 10
        [
            "INV-8",
            "invoice",
            "",
            "No customer",
            "2025-01-04",
            "",
            "USD",
            "1.00",
            "open",
            "",
            "",
        ],  # 11
    ],
)
PAYMENTS: Table = (
    [
        "payment_number",
        "document_number",
        "payment_date",
        "currency",
        "amount",
        "payment_method",
        "memo",
    ],
    [
        ["P-1", "INV-1", "2025-01-05", "usd", "100.50", "stripe", "ch_1"],  # 2
        ["P-2", "", "2025-01-06", "USD", "-20.00", "stripe", "refund"],  # 3
        ["P-3", "CM-1", "2025-01-06", "JPY", "4800", "wire", ""],  # 4
        ["P-4", "INV-2", "2025-01-06", "KWD", "12.3456", "wire", ""],  # 5
    ],
)
GL_ENTRIES: Table = (
    [
        "journal_number",
        "line_number",
        "posting_date",
        "account_number",
        "account_name",
        "debit",
        "credit",
        "currency",
        "memo",
        "document_number",
    ],
    [
        [
            "J-1",
            "1",
            "2025-01-07",
            "1000",
            "Bank",
            "100.50",
            "0",
            "usd",
            "STRIPE PAYOUT po_1",
            "",
        ],  # 2
        ["J-1", "2", "2025-01-07", "1010", "Clearing", "0", "100.50", "usd", "", ""],  # 3
        ["J-2", "1", "2025-01-08", "1000", "Bank", "-5.00", "0", "usd", "", ""],  # 4
        ["J-1", "2", "2025-01-07", "1010", "Clearing again", "0", "1.00", "usd", "", ""],  # 5
    ],
)
GL_ACCOUNTS: Table = (
    ["account_number", "role"],
    [
        ["1000", "bank"],  # 2
        ["1010", "stripe_clearing"],  # 3
        ["1000", "stripe_fees"],  # 4
    ],
)
BOOKS: dict[str, Table] = {
    "invoices": INVOICES,
    "payments": PAYMENTS,
    "gl_entries": GL_ENTRIES,
    "gl_accounts": GL_ACCOUNTS,
}

# (table, CSV line, a piece of the reason) of every bad row of BOOKS.
EXPECTED_QUARANTINE = [
    ("invoices", 5, "amount: '1,2O4.50' is not a decimal number"),
    ("invoices", 6, "document_date: '2025/01/04' is not a date"),
    ("invoices", 7, "currency: 'XYZ' is not a known ISO 4217 currency"),
    ("invoices", 8, "duplicate key document_number=INV-1 (the row at line 2 is kept)"),
    ("invoices", 9, "document_type: 'receipt' is not one of invoice, credit_memo"),
    ("invoices", 10, "amount: 10.5 has more decimals than JPY allows (0)"),
    ("invoices", 11, "customer_number is empty"),
    ("payments", 5, "amount: 12.3456 has more decimals than KWD allows (3)"),
    ("gl_entries", 4, "debit: -5.00 is below 0"),
    ("gl_entries", 5, "duplicate key journal_number=J-1, line_number=2"),
    ("gl_accounts", 4, "duplicate key account_number=1000"),
]
EXPECTED_ROWS = {"invoices": 3, "payments": 3, "gl_entries": 2, "gl_accounts": 2}


def write_csv(path: Path, table: Table) -> Path:
    header, rows = table
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


MakeSettings = Callable[..., Settings]


def query(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    """Rows of `sql` on the settings' DuckDB warehouse, opened read-only."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def counts(settings: Settings) -> dict[str, int]:
    """Rows per raw_erp table."""
    tables = [*EXPECTED_ROWS, "quarantine"]
    return {t: int(query(settings, f"select count(*) from raw_erp.{t}")[0][0]) for t in tables}  # type: ignore[call-overload]
