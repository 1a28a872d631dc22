"""The ERP load from a PostgreSQL database, and into the PostgreSQL warehouse target."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest
from erp_books import BOOKS, EXPECTED_QUARANTINE, EXPECTED_ROWS, MakeSettings, counts, query

from core.errors import UnreadableSourceError
from ingest.erp import load_erp

pytestmark = pytest.mark.postgres


def create_books(url: str, schema: str) -> None:
    """BOOKS as tables in `schema`: text columns, except typed payments (numeric, date)."""
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        for name, (header, rows) in BOOKS.items():
            types = {c: "text" for c in header}
            if name == "payments":
                types.update(amount="numeric(18, 4)", payment_date="date")
            columns = ", ".join(f"{c} {types[c]}" for c in header)
            cursor.execute(f"create table {schema}.{name} ({columns})")
            marks = ", ".join(["%s"] * len(header))
            cursor.executemany(
                f"insert into {schema}.{name} values ({marks})",
                [[v if v != "" else None for v in row] for row in rows],
            )


def test_load_from_postgres(
    postgres_url: str,
    postgres_schema: tuple[str, str],
    make_settings: MakeSettings,
    pipelines_dir: Path,
) -> None:
    schema, url = postgres_schema
    create_books(postgres_url, schema)
    settings = make_settings(erp_sql=url)

    report = load_erp(settings, pipelines_dir=pipelines_dir)

    assert counts(settings) == {**EXPECTED_ROWS, "quarantine": len(EXPECTED_QUARANTINE)}
    stored = query(settings, "select table_name, source, line, reason from raw_erp.quarantine")
    for table, line, reason in EXPECTED_QUARANTINE:
        # A SQL row's line is its 1-based ordinal: the CSV line less the header.
        found = [r for r in stored if r[0] == table and r[2] == line - 1]
        assert len(found) == 1, (table, line)
        assert found[0][1] == table
        assert reason.split(" (the row")[0] in str(found[0][3])
    assert report.messages == []

    again = load_erp(settings, pipelines_dir=pipelines_dir)
    assert counts(settings) == {**EXPECTED_ROWS, "quarantine": len(EXPECTED_QUARANTINE)}
    assert sum(t.new_rows + t.updated_rows for t in again.tables) == 0


def test_missing_table_reported(
    postgres_schema: tuple[str, str], make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    _schema, url = postgres_schema
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("create table invoices (document_number text, document_type text)")
    with pytest.raises(UnreadableSourceError) as raised:
        load_erp(make_settings(erp_sql=url), pipelines_dir=pipelines_dir)
    message = str(raised.value)
    assert message.startswith("invoices misses the required column(s) customer_number")
    assert "payments is not a table or view of the ERP database" in message
    report = load_erp(make_settings(erp_sql=url, allow_missing_sources="erp"), pipelines_dir=pipelines_dir)
    assert report.skipped_sources == 3


def test_load_into_postgres_warehouse(
    postgres_url: str,
    postgres_database: str,
    erp_dir: Path,
    make_settings: MakeSettings,
    pipelines_dir: Path,
) -> None:
    settings = make_settings(erp_dir=str(erp_dir), target="postgres")

    first = load_erp(settings, pipelines_dir=pipelines_dir)
    path = erp_dir / "invoices.csv"
    path.write_text(path.read_text().replace("100.50,open,ch_1", "100.50,paid,ch_1"))
    second = load_erp(settings, pipelines_dir=pipelines_dir)

    assert first.table("invoices").new_rows == EXPECTED_ROWS["invoices"]
    assert (second.table("invoices").new_rows, second.table("invoices").updated_rows) == (0, 1)
    assert second.table("quarantine").new_rows == 0
    database_url = postgres_url.rsplit("/", 1)[0] + f"/{postgres_database}"
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select count(*), count(*) filter (where status = 'paid') from raw_erp.invoices"
        )
        assert cursor.fetchone() == (EXPECTED_ROWS["invoices"], 2)
        cursor.execute("select count(*) from raw_erp.quarantine")
        assert cursor.fetchone() == (len(EXPECTED_QUARANTINE),)
        cursor.execute(
            "select data_type, numeric_scale from information_schema.columns "
            "where table_schema = 'raw_erp' and table_name = 'invoices' and column_name = 'amount'"
        )
        assert cursor.fetchone() == ("numeric", 3)
    connection.close()


def test_typed_sql_columns_as_databases_hold_them(
    postgres_schema: tuple[str, str], make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    """A database ERP holds dates as timestamps, amounts as floating numbers or numerics of
    another scale, and NULL for the unused side of a journal line: each lands exact."""
    _schema, url = postgres_schema
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "create table invoices (document_number text, document_type text, "
            "customer_number text, document_date timestamp, currency text, amount double precision)"
        )
        cursor.execute(
            "insert into invoices values "
            "('INV-1', 'Invoice', 'C1', '2025-01-31 00:00:00', 'USD', 29.0), "
            "('INV-2', 'invoice', 'C1', '2025-01-31 23:59:59', 'jpy', 4800), "
            "('INV-3', 'invoice', 'C1', '2025-01-31 00:00:00', 'usd', 0.1::float8 + 0.2::float8)"
        )
        cursor.execute(
            "create table gl_entries (journal_number text, line_number integer, posting_date date, "
            "account_number text, debit numeric(18, 4), credit numeric(18, 4), currency text)"
        )
        cursor.execute(
            "insert into gl_entries values ('J-1', 1, '2025-01-31', '1000', 10.5, null, 'usd'), "
            "('J-1', 2, '2025-01-31', '1150', null, 10.5, 'usd')"
        )
    settings = make_settings(erp_sql=url, allow_missing_sources="erp/payments")

    load_erp(settings, pipelines_dir=pipelines_dir)

    assert query(
        settings,
        "select document_number, document_type, document_date::varchar, amount "
        "from raw_erp.invoices order by 1",
    ) == [
        ("INV-1", "invoice", "2025-01-31", Decimal("29")),
        ("INV-2", "invoice", "2025-01-31", Decimal("4800")),
    ]
    (refused,) = query(settings, "select row_key, reason from raw_erp.quarantine")
    # 0.1 + 0.2 as a double is 0.30000000000000004: not a whole number of cents, never rounded.
    assert refused[0] == "INV-3" and "more decimals than USD allows" in refused[1]
    assert query(
        settings, "select line_number, debit, credit from raw_erp.gl_entries order by 1"
    ) == [("1", Decimal("10.5"), Decimal("0")), ("2", Decimal("0"), Decimal("10.5"))]
