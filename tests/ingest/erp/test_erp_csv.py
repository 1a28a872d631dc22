"""The ERP load from CSV files into a real DuckDB file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from erp_books import (
    BOOKS,
    EXPECTED_QUARANTINE,
    EXPECTED_ROWS,
    PAYMENTS,
    MakeSettings,
    counts,
    query,
    write_csv,
)

from core.errors import ReconError, UnreadableSourceError, UserError
from ingest.erp import load_erp
from ingest.report import LoadReport


def test_first_load_counts(erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path) -> None:
    settings = make_settings(erp_dir=str(erp_dir))
    report = load_erp(settings, pipelines_dir=pipelines_dir)

    assert counts(settings) == {**EXPECTED_ROWS, "quarantine": len(EXPECTED_QUARANTINE)}
    for table, rows in EXPECTED_ROWS.items():
        assert report.table(table).new_rows == rows
        assert report.table(table).updated_rows == 0
    assert report.table("quarantine").new_rows == len(EXPECTED_QUARANTINE)
    assert report.quarantined_rows == len(EXPECTED_QUARANTINE)
    assert report.messages == []


@pytest.mark.parametrize(
    ("table", "line", "reason"),
    EXPECTED_QUARANTINE,
    ids=[f"{t}-line{n}" for t, n, _ in EXPECTED_QUARANTINE],
)
def test_bad_row_quarantined_with_file_line_reason(
    erp_dir: Path,
    make_settings: MakeSettings,
    pipelines_dir: Path,
    table: str,
    line: int,
    reason: str,
) -> None:
    settings = make_settings(erp_dir=str(erp_dir))
    load_erp(settings, pipelines_dir=pipelines_dir)
    rows = query(
        settings,
        f"select source, raw, reason, quarantined_at from raw_erp.quarantine "
        f"where table_name = '{table}' and line = {line}",
    )
    assert len(rows) == 1
    source, raw, stored_reason, quarantined_at = rows[0]
    assert source == f"{table}.csv"
    assert reason in str(stored_reason)
    _header, data = BOOKS[table]
    assert raw == ",".join(f'"{v}"' if "," in v else v for v in data[line - 2])
    assert quarantined_at is not None


def test_values_kept_exact(erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path) -> None:
    settings = make_settings(erp_dir=str(erp_dir))
    load_erp(settings, pipelines_dir=pipelines_dir)
    rows = query(
        settings,
        "select document_number, currency, amount, document_date::varchar, region, customer_email "
        "from raw_erp.invoices order by document_number",
    )
    assert rows == [
        ("CM-1", "jpy", Decimal("4800"), "2025-01-04", "east", None),
        ("INV-1", "USD", Decimal("100.50"), "2025-01-02", "west", None),
        ("INV-2", "KWD", Decimal("12.345"), "2025-01-03", None, None),
    ]
    types = dict(
        query(
            settings,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_erp' and table_name = 'payments'",
        )
    )
    assert types["amount"] == "DECIMAL(38,3)"
    assert types["payment_date"] == "DATE"
    assert {"_row_fingerprint", "_source", "_loaded_at", "_dlt_load_id"} <= set(types)


def test_reload_unchanged_adds_and_changes_nothing(
    erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    settings = make_settings(erp_dir=str(erp_dir))
    load_erp(settings, pipelines_dir=pipelines_dir)
    before = counts(settings)
    loaded_at = query(settings, "select max(_loaded_at) from raw_erp.invoices")

    report = load_erp(settings, pipelines_dir=pipelines_dir)

    assert counts(settings) == before
    assert query(settings, "select max(_loaded_at) from raw_erp.invoices") == loaded_at
    for table, rows in EXPECTED_ROWS.items():
        assert (report.table(table).new_rows, report.table(table).updated_rows) == (0, 0)
        assert report.table(table).unchanged_rows == rows
    assert report.table("quarantine").new_rows == 0
    # The bad rows are still bad: the run says so again, without storing them twice.
    assert report.quarantined_rows == len(EXPECTED_QUARANTINE)


def test_changed_status_updated(
    erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    settings = make_settings(erp_dir=str(erp_dir))
    load_erp(settings, pipelines_dir=pipelines_dir)
    path = erp_dir / "invoices.csv"
    path.write_text(path.read_text().replace("100.50,open,ch_1", "100.50,paid,ch_1"))

    report = load_erp(settings, pipelines_dir=pipelines_dir)

    assert report.table("invoices").updated_rows == 1
    assert report.table("invoices").new_rows == 0
    assert report.table("invoices").unchanged_rows == 2
    assert query(
        settings, "select status from raw_erp.invoices where document_number = 'INV-1'"
    ) == [("paid",)]
    assert counts(settings)["invoices"] == EXPECTED_ROWS["invoices"]


def _drop_currency(erp_dir: Path) -> None:
    header, rows = PAYMENTS
    drop = header.index("currency")
    write_csv(
        erp_dir / "payments.csv",
        (
            [h for h in header if h != "currency"],
            [[v for i, v in enumerate(r) if i != drop] for r in rows],
        ),
    )


def test_a_file_missing_a_required_column_stops_the_load_and_the_last_good_load_stays(
    erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    settings = make_settings(erp_dir=str(erp_dir))
    load_erp(settings, pipelines_dir=pipelines_dir)
    before = counts(settings)
    _drop_currency(erp_dir)
    (erp_dir / "invoices.csv").write_text("document_number\nINV-NEW\n", encoding="utf-8")

    with pytest.raises(UnreadableSourceError) as raised:
        load_erp(settings, pipelines_dir=pipelines_dir)

    message = str(raised.value)
    assert "invoices.csv misses the required column(s)" in message  # the first, named fully
    assert "payments.csv misses the required column(s) currency" in message  # and the other
    assert "--allow-missing-source erp/invoices --allow-missing-source erp/payments" in message
    assert "its last good load, of " in message and "\n" not in message
    assert counts(settings) == before  # nothing of this run was loaded


def test_an_allowed_missing_input_goes_on_with_the_others_and_is_logged_stale(
    erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    _drop_currency(erp_dir)
    settings = make_settings(erp_dir=str(erp_dir), allow_missing_sources="erp/payments")

    report = load_erp(settings, pipelines_dir=pipelines_dir)

    assert len(report.messages) == 1
    assert "payments.csv" in report.messages[0] and "currency" in report.messages[0]
    assert "no earlier load of it" in report.messages[0]
    assert report.skipped_sources == 1 and report.table("payments").stale
    assert report.table("payments").new_rows == 0
    assert report.table("invoices").new_rows == EXPECTED_ROWS["invoices"]
    assert counts(settings)["payments"] == 0  # the table exists, empty, for staging to read
    assert query(settings, "select count(*) from raw_erp.gl_entries") == [(EXPECTED_ROWS["gl_entries"],)]
    assert query(settings, "select table_name, status from raw_erp.load_log order by 1") == [
        ("gl_accounts", "loaded"),
        ("gl_entries", "loaded"),
        ("invoices", "loaded"),
        ("payments", "stale"),
    ]


def test_one_undecodable_line_is_one_quarantined_row(
    erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    path = erp_dir / "payments.csv"
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b",", b",\xe9", 1)  # one Latin-1 byte in the second data line
    path.write_bytes(b"\n".join(lines))
    settings = make_settings(erp_dir=str(erp_dir))

    report = load_erp(settings, pipelines_dir=pipelines_dir)

    assert report.messages == []
    found = query(settings, "select line, raw, reason from raw_erp.quarantine where reason like '%UTF-8%'")
    assert len(found) == 1
    line, raw, reason = found[0]
    assert line == 3 and "\\xe9" in str(raw) and "0xE9" in str(reason)
    good = EXPECTED_ROWS["payments"] - 1
    assert counts(settings)["payments"] in (good, good + 1)  # the line may already have been a bad row
    assert report.table("payments").new_rows == counts(settings)["payments"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        ("payment_number,payment_date\n".encode("utf-16"), "is UTF-16 or UTF-32 text"),
        (bytes(range(256)) * 4096, "misses the required column"),
    ],
    ids=["empty", "utf16", "junk"],
)
def test_a_file_that_is_not_a_table_stops_the_load(
    erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path, content: bytes, reason: str
) -> None:
    (erp_dir / "payments.csv").write_bytes(content)
    with pytest.raises(UnreadableSourceError, match=f"^payments.csv {reason}.*cannot be read as the ERP's payments table"):
        load_erp(make_settings(erp_dir=str(erp_dir)), pipelines_dir=pipelines_dir)


def test_csv_oddities(tmp_path: Path, make_settings: MakeSettings, pipelines_dir: Path) -> None:
    """A quoted field over two lines, a blank line, a short row, a BOM, header case and spaces."""
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "payments.csv").write_text(
        "\ufeffPayment_Number , Payment_Date,Currency,Amount,Memo\n"  # 1
        'P-1,2025-01-05,usd,1.00,"two\nlines"\n'  # 2-3
        "\n"  # 4
        "P-2,2025-01-05,usd\n"  # 5
        "P-3, 2025-01-06 ,EUR, 2.50 ,x\n",  # 6
        encoding="utf-8",
    )
    settings = make_settings(erp_dir=str(folder), allow_missing_sources="erp/invoices,erp/gl_entries")

    report = load_erp(settings, pipelines_dir=pipelines_dir)

    assert report.table("payments").new_rows == 2
    assert query(settings, "select line, raw, reason from raw_erp.quarantine") == [
        (5, "P-2,2025-01-05,usd", "the row has 3 values, the header has 5")
    ]
    assert query(settings, "select memo from raw_erp.payments where payment_number = 'P-1'") == [
        ("two\nlines",)
    ]
    # The missing invoices.csv and gl_entries.csv (allowed) are reported; gl_accounts.csv is optional.
    assert len(report.messages) == 2
    assert all("is not in" in m for m in report.messages)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "No ERP books given"),
        ({"erp_dir": "/nonexistent/erp", "erp_sql": "sqlite://"}, "not both"),
        ({"erp_dir": "/nonexistent/erp"}, "is not a folder"),
        ({"erp_sql": "not a url"}, "not a SQLAlchemy URL"),
        ({"erp_sql": "nosuchdb://host/db"}, "No database driver"),
        (
            {"erp_sql": "postgresql://someone:s3cret@127.0.0.1:1/erp"},
            "Cannot connect to the ERP database",
        ),
    ],
    ids=["neither", "both", "unknown-dir", "bad-url", "unknown-driver", "unreachable-db"],
)
def test_user_errors(
    make_settings: MakeSettings, pipelines_dir: Path, options: dict[str, str], expected: str
) -> None:
    with pytest.raises(UserError) as raised:
        load_erp(make_settings(**options), pipelines_dir=pipelines_dir)
    assert expected in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_empty_folder_is_a_user_error(
    tmp_path: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    with pytest.raises(ReconError, match="holds none of the expected files"):
        load_erp(make_settings(erp_dir=str(tmp_path)), pipelines_dir=pipelines_dir)


def test_report_renders(erp_dir: Path, make_settings: MakeSettings, pipelines_dir: Path) -> None:
    report: LoadReport = load_erp(make_settings(erp_dir=str(erp_dir)), pipelines_dir=pipelines_dir)
    text = report.render()
    assert "invoices" in text and "quarantine" in text
