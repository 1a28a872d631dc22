"""Values as real exports write them, through the whole load into a real DuckDB file: what is
accepted lands as the exact value, what stays ambiguous is quarantined with why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from erp_books import MakeSettings, Table, query, write_csv

from ingest.erp import load_erp

INVOICE_HEADER = [
    "document_number",
    "document_type",
    "customer_number",
    "document_date",
    "currency",
    "amount",
    "status",
]
# (document, type, date, currency, amount as written) -> (type, date, amount) stored.
ACCEPTED_INVOICES = [
    (("INV-1", "invoice", "2025-01-31", "USD", "29."), ("invoice", date(2025, 1, 31), "29")),
    (
        ("INV-2", "Invoice", "2025-01-31T00:00:00", "usd", "29"),
        ("invoice", date(2025, 1, 31), "29"),
    ),
    (
        ("INV-3", "INVOICE", "2025-01-31 00:00:00", "Usd", "29.0"),
        ("invoice", date(2025, 1, 31), "29"),
    ),
    (
        ("INV-4", "invoice", "2025-01-31T00:00:00Z", "usd", "+29.00"),
        ("invoice", date(2025, 1, 31), "29"),
    ),
    (
        ("INV-5", "invoice", "2025-01-31 23:00:00-05:00", "eur", ".50"),
        ("invoice", date(2025, 1, 31), "0.5"),
    ),
    (("INV-6", "invoice", "2025-01-31", "jpy", "4800.00"), ("invoice", date(2025, 1, 31), "4800")),
    (("INV-7", "invoice", "2025-01-31", "KWD", "12.345"), ("invoice", date(2025, 1, 31), "12.345")),
    (
        ("CM-1", "Credit Memo", "2025-01-31", "usd", " 10.00 "),
        ("credit_memo", date(2025, 1, 31), "10"),
    ),
    (
        ("CM-2", "credit-memo", "2025-01-31", "usd", "0010.10"),
        ("credit_memo", date(2025, 1, 31), "10.1"),
    ),
]
# (document, currency, amount or date as written) -> a piece of the reason.
REFUSED_INVOICES = [
    (
        ("INV-20", "invoice", "2025-01-31", "usd", "1,204.50"),
        "amount: '1,204.50' is not a decimal number: it mixes",
    ),
    (
        ("INV-21", "invoice", "2025-01-31", "eur", "1.204,50"),
        "which one is the decimal mark is ambiguous",
    ),
    (
        ("INV-22", "invoice", "2025-01-31", "eur", "1 204,50"),
        "a space or an apostrophe between digits",
    ),
    (
        ("INV-23", "invoice", "03/04/2025", "usd", "10.00"),
        "can be read either way (3 April or March 4)",
    ),
    (("INV-24", "invoice", "2025-01-31", "jpy", "10.5"), "more decimals than JPY allows (0)"),
    (("INV-25", "invoice", "2025-01-31", "usd", "12,5"), "decimal comma"),
    (("INV-26", "invoice", "2025-01-31", "usd", "$10.00"), "currency sign or code"),
]


def invoices() -> Table:
    rows = [[*values[:2], "C1", *values[2:], "open"] for values, _ in ACCEPTED_INVOICES]
    rows += [[*values[:2], "C1", *values[2:], "open"] for values, _ in REFUSED_INVOICES]
    return INVOICE_HEADER, rows


GL: Table = (
    [
        "journal_number",
        "line_number",
        "posting_date",
        "account_number",
        "debit",
        "credit",
        "currency",
    ],
    [
        ["J-1", "1", "2025-01-31", "1000", "100.00", "", "usd"],  # 2: credit empty -> 0
        ["J-1", "2", "2025-01-31", "1150", "", "100.00", "usd"],  # 3: debit empty -> 0
        ["J-2", "1", "2025-01-31", "1000", "", "", "usd"],  # 4: both empty: refused
        ["J-2", "2", "2025-01-31", "1150", " ", "5", "usd"],  # 5: blank debit -> 0
    ],
)


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "invoices.csv", invoices())
    write_csv(folder / "gl_entries.csv", GL)
    return folder


def test_accepted_forms_land_exact(
    export_dir: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    settings = make_settings(erp_dir=str(export_dir), allow_missing_sources="erp")
    load_erp(settings, pipelines_dir=pipelines_dir)

    stored = {
        row[0]: row[1:]
        for row in query(
            settings,
            "select document_number, document_type, document_date, amount from raw_erp.invoices",
        )
    }
    expected = {
        values[0]: (kind, day, Decimal(amount)) for values, (kind, day, amount) in ACCEPTED_INVOICES
    }
    assert stored == expected
    for amount in (row[2] for row in stored.values()):
        assert isinstance(amount, Decimal)


@pytest.mark.parametrize(
    ("document", "reason"),
    [(values[0], reason) for values, reason in REFUSED_INVOICES],
    ids=[values[0] for values, _ in REFUSED_INVOICES],
)
def test_ambiguous_forms_quarantined_with_why(
    export_dir: Path, make_settings: MakeSettings, pipelines_dir: Path, document: str, reason: str
) -> None:
    settings = make_settings(erp_dir=str(export_dir), allow_missing_sources="erp")
    load_erp(settings, pipelines_dir=pipelines_dir)

    rows = query(
        settings,
        f"select reason, row_key, line from raw_erp.quarantine where row_key = '{document}'",
    )
    assert len(rows) == 1, rows
    assert reason in str(rows[0][0])
    assert query(
        settings, f"select count(*) from raw_erp.invoices where document_number = '{document}'"
    ) == [(0,)]


def test_gl_empty_side_reads_as_zero(
    export_dir: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    settings = make_settings(erp_dir=str(export_dir), allow_missing_sources="erp")
    load_erp(settings, pipelines_dir=pipelines_dir)

    assert query(
        settings,
        "select journal_number, line_number, debit, credit from raw_erp.gl_entries order by 1, 2",
    ) == [
        ("J-1", "1", Decimal("100"), Decimal("0")),
        ("J-1", "2", Decimal("0"), Decimal("100")),
        ("J-2", "2", Decimal("0"), Decimal("5")),
    ]
    refused = query(
        settings,
        "select line, row_key, reason from raw_erp.quarantine where table_name = 'gl_entries'",
    )
    assert refused == [(4, "J-2|1", "debit is empty; credit is empty")]


def test_unquoted_thousands_separator_is_named(
    tmp_path: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    folder = tmp_path / "split"
    folder.mkdir()
    (folder / "payments.csv").write_text(
        "payment_number,payment_date,currency,amount,memo\n"
        "P-1,2025-01-05,usd,1,204.50,x\n"  # 2: the comma splits the amount
        "P-2,2025-01-05,usd,12.00,x,y\n",  # 3: one value too many, no amount to blame
        encoding="utf-8",
    )
    settings = make_settings(erp_dir=str(folder), allow_missing_sources="erp")
    load_erp(settings, pipelines_dir=pipelines_dir)

    rows = dict(
        (line, (key, reason))
        for line, key, reason in query(
            settings, "select line, row_key, reason from raw_erp.quarantine"
        )
    )
    assert rows[2][0] == "P-1"
    assert "amount looks written with a thousands separator and no quotes (1,204.50)" in rows[2][1]
    assert rows[3] == ("P-2", "the row has 6 values, the header has 5")


def test_clean_books_still_have_a_quarantine_table(
    tmp_path: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    """Staging reads raw_erp.quarantine: books without a bad row must not break the build."""
    folder = tmp_path / "clean"
    folder.mkdir()
    write_csv(
        folder / "invoices.csv",
        (INVOICE_HEADER, [["INV-1", "invoice", "C1", "2025-01-31", "usd", "1", ""]]),
    )
    settings = make_settings(erp_dir=str(folder), allow_missing_sources="erp")
    load_erp(settings, pipelines_dir=pipelines_dir)

    assert query(settings, "select count(*) from raw_erp.quarantine") == [(0,)]
    columns = {
        name
        for (name,) in query(
            settings,
            "select column_name from information_schema.columns "
            "where table_schema = 'raw_erp' and table_name = 'quarantine'",
        )
    }
    assert {"quarantine_id", "table_name", "source", "line", "raw", "reason", "row_key"} <= columns
