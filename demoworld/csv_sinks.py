"""The ERP side of the demo world: CSV sinks that count lines, money formatting, the chart."""

from __future__ import annotations

import csv
from pathlib import Path
from types import TracebackType
from typing import IO

# ISO 4217 minor-unit exponents of the currencies the demo world uses.
EXPONENTS: dict[str, int] = {"usd": 2, "eur": 2, "gbp": 2, "cad": 2, "jpy": 0, "kwd": 3}

# account_number, account_name, role
CHART_OF_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("1000", "Operating Bank Account", "bank"),
    ("1150", "Stripe Clearing", "stripe_clearing"),
    ("1200", "Accounts Receivable", "accounts_receivable"),
    ("4000", "Subscription Revenue", "revenue"),
    ("4900", "Refunds and Allowances", "refunds"),
    ("6150", "Stripe Fees", "stripe_fees"),
    ("6160", "Chargebacks", "chargebacks"),
    ("6170", "Bank Charges", "bank_fees"),
    ("7100", "FX Gain/Loss", "fx"),
)
ACCOUNT_BY_ROLE: dict[str, tuple[str, str]] = {
    role: (num, name) for num, name, role in CHART_OF_ACCOUNTS
}

INVOICE_COLUMNS = (
    "document_number",
    "document_type",
    "customer_number",
    "customer_name",
    "customer_email",
    "document_date",
    "due_date",
    "currency",
    "amount",
    "status",
    "external_reference",
)
PAYMENT_COLUMNS = (
    "payment_number",
    "document_number",
    "payment_date",
    "currency",
    "amount",
    "payment_method",
    "memo",
)
GL_COLUMNS = (
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
)


def fmt_major(minor: int, currency: str) -> str:
    """Integer minor units -> a major-unit decimal string (4800 JPY, 12.340 KWD, -45.99 USD)."""
    exponent = EXPONENTS[currency.lower()]
    sign = "-" if minor < 0 else ""
    units, frac = divmod(abs(minor), 10**exponent)
    if exponent == 0:
        return f"{sign}{units}"
    return f"{sign}{units}.{frac:0{exponent}d}"


class CsvSink:
    """A CSV file written row by row that knows the 1-based line of every row it wrote."""

    def __init__(self, path: Path, header: tuple[str, ...] | list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = path.open("w", newline="", encoding="utf-8", buffering=1 << 20)
        self._writer = csv.writer(self._handle, lineterminator="\n")
        self._writer.writerow(header)
        self.line = 1
        self.rows = 0
        self.last_row: list[str] | None = None

    def write(self, row: list[str]) -> int:
        """Write one row; returns its line number (the header is line 1)."""
        self._writer.writerow(row)
        self.line += 1
        self.rows += 1
        self.last_row = row
        return self.line

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> CsvSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
