"""The bank statements' parsers (BAI2, camt.053, CSV) and their load into raw_bank: lines in
minor units with their references, bad lines quarantined with file, line and reason, a file
that cannot be read stops with exit 2 naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

import recon  # noqa: F401  - telemetry off before dlt starts
from core.errors import UnreadableSourceError
from core.settings import Settings, resolve
from ingest.bank import load_bank
from ingest.bank.parsers import camt053_versions, parse_bai2, parse_camt053, parse_csv
from ingest.erp.helpers import InputError
from recon.cli import main

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def bank_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bank"
    shutil.copytree(SAMPLES, folder)
    return folder


def _settings(tmp_path: Path, bank_dir: Path, **options: str) -> Settings:
    return resolve(env={}, warehouse=str(tmp_path / "wh" / "recon.duckdb"), bank_dir=str(bank_dir), **options)


def test_bai2_lines_signed_in_minor_units_with_references_and_balances() -> None:
    parsed = parse_bai2(SAMPLES / "day1.bai")
    [statement] = parsed.statements
    assert (statement.account, statement.currency) == ("123456789", "usd")
    assert (statement.opening_balance_minor, statement.closing_balance_minor) == (100000, 152500)
    assert [line.amount_minor for line in parsed.lines] == [50000, 5000, -2500]
    first = parsed.lines[0]
    assert (first.bank_reference, first.customer_reference, first.description) == (
        "BR0001", "PO_TRACE1", "STRIPE TRANSFER ST-ABC")
    # a continuation record (88) is part of its line's text; lines are numbered as in the file
    assert "TRANSFER PART 2" in (parsed.lines[1].description or "")
    assert [line.line for line in parsed.lines] == [4, 5, 7]
    assert not parsed.bad


def test_camt053_entries_with_their_references_and_a_bad_amount_quarantined() -> None:
    parsed = parse_camt053(SAMPLES / "day2.xml")
    [statement] = parsed.statements
    assert (statement.currency, statement.opening_balance_minor, statement.closing_balance_minor) == ("eur", 100000, 149000)
    assert [line.amount_minor for line in parsed.lines] == [50000, -1000]
    credit = parsed.lines[0]
    assert (credit.bank_reference, credit.end_to_end_id) == ("BANKREF1", "po_123")
    assert "STRIPE PAYOUT" in (credit.description or "")
    [bad] = parsed.bad
    assert bad.line == 24 and "more than 2 decimals for EUR" in bad.reason


def test_csv_running_balance_gives_the_statement_and_a_split_row_is_quarantined() -> None:
    parsed = parse_csv(SAMPLES / "export.csv")
    [statement] = parsed.statements
    assert (statement.opening_balance_minor, statement.closing_balance_minor) == (100000, 108000)
    assert [line.amount_minor for line in parsed.lines] == [10000, -2000]
    [bad] = parsed.bad
    assert bad.line == 3 and "7 values" in bad.reason


# The sample as each version of the schema wants it: 001.03 to 001.06 give a transaction's
# details its amount; from 001.07 on an entry's status is a choice of codes.
_DETAILS_AMOUNT = [("</Refs>", '</Refs><Amt Ccy="EUR">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>')]
_STATUS_CODE = [("<Sts>BOOK</Sts>", "<Sts><Cd>BOOK</Cd></Sts>")]
VERSIONS = {
    "001.02": [],
    "001.03": _DETAILS_AMOUNT,
    "001.04": _DETAILS_AMOUNT,
    "001.05": _DETAILS_AMOUNT,
    "001.06": _DETAILS_AMOUNT,
    **{f"001.{n:02d}": _STATUS_CODE for n in range(7, 15)},
}


def _camt(tmp_path: Path, version: str = "001.02", changes: tuple[tuple[str, str], ...] = ()) -> Path:
    text = (SAMPLES / "day2.xml").read_text().replace("camt.053.001.02", f"camt.053.{version}")
    for old, new in [*VERSIONS.get(version, []), *changes]:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"camt-{version}.xml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("version", list(VERSIONS))
def test_camt053_is_validated_against_the_schema_of_its_version(tmp_path: Path, version: str) -> None:
    assert version in camt053_versions()  # the published XSD is in the repository
    parsed = parse_camt053(_camt(tmp_path, version))
    assert [line.amount_minor for line in parsed.lines] == [50000, -1000]
    assert [bad.reason for bad in parsed.bad] == ["1.234 has more than 2 decimals for EUR"]
    # the same file in the shape of another version fails that version's schema
    other = "001.08" if version < "001.07" else "001.02"
    text = (tmp_path / f"camt-{version}.xml").read_text().replace(f"camt.053.{version}", f"camt.053.{other}")
    (tmp_path / "other.xml").write_text(text)
    refused = parse_camt053(tmp_path / "other.xml").bad
    assert any(f"does not follow the camt.053.{other} schema" in bad.reason for bad in refused), refused


def test_a_camt053_entry_that_fails_the_schema_is_quarantined_and_counted_to_its_statement(tmp_path: Path) -> None:
    path = _camt(tmp_path, changes=(
        ("<Amt Ccy=\"EUR\">10.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>", "<Amt Ccy=\"EUR\">10.00</Amt><CdtDbtInd>DEBIT</CdtDbtInd>"),
    ))
    parsed = parse_camt053(path)
    assert [line.amount_minor for line in parsed.lines] == [50000]
    schema_bad, amount_bad = parsed.bad
    assert schema_bad.line == 19 and "<CdtDbtInd>DEBIT</CdtDbtInd>" in schema_bad.raw
    assert schema_bad.reason.startswith("the entry does not follow the camt.053.001.02 schema: line 20: ")
    assert "CdtDbtInd" in schema_bad.reason and "DEBIT" in schema_bad.reason
    assert "urn:iso" not in schema_bad.reason  # element names without their namespace
    assert schema_bad.statement_key == parsed.statements[0].statement_key
    assert amount_bad.line == 24


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        pytest.param("cut.bai", "01,B,A,250115,0800,F1,80,10,2/\n02,A,B,1,250114,2359,USD,2/\n", "BAI2", id="bai2-truncated"),
        pytest.param("total.bai", (SAMPLES / "day1.bai").read_text().replace("49,310000", "49,310001"),
                     "control total", id="bai2-control-total"),
        pytest.param("broken.xml", "<Document><BkToCstmrStmt>", "well-formed", id="camt-not-xml"),
        pytest.param("pain.xml", '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
                     "not a camt.053", id="camt-other-message"),
        pytest.param("nomsgid.xml", (SAMPLES / "day2.xml").read_text().replace("<MsgId>M1</MsgId>", ""),
                     r"does not follow the camt.053.001.02 schema outside its entries \(line 4: .*MsgId",
                     id="camt-header-fails-the-schema"),
        pytest.param("nobalance.xml", (SAMPLES / "day2.xml").read_text().replace("<CdtDbtInd>CRDT</CdtDbtInd><Dt>", "<Dt>", 1),
                     "outside its entries", id="camt-balance-fails-the-schema"),
        pytest.param("v99.xml", (SAMPLES / "day2.xml").read_text().replace("camt.053.001.02", "camt.053.001.99"),
                     "camt.053.001.99, a version this project holds no schema of", id="camt-unknown-version"),
        pytest.param("noamount.csv", "date,currency,description\n2025-01-01,usd,x\n", "amount", id="csv-no-amount"),
        pytest.param("empty.csv", "", "empty", id="csv-empty"),
    ],
)
def test_a_file_that_cannot_be_read_is_an_input_error(tmp_path: Path, name: str, content: str, reason: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    parser = {".bai": parse_bai2, ".xml": parse_camt053, ".csv": parse_csv}[path.suffix]
    with pytest.raises(InputError, match=reason):
        parser(path)


def test_load_lands_lines_statements_and_quarantine(tmp_path: Path, bank_dir: Path) -> None:
    settings = _settings(tmp_path, bank_dir)
    report = load_bank(settings, pipelines_dir=tmp_path / "pipelines")
    assert report.table("statement_lines").new_rows == 7
    assert report.table("statement_lines").quarantined_rows == 2
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        lines = con.execute(
            "select source, position, amount_minor, currency from raw_bank.statement_lines order by source, position"
        ).fetchall()
        quarantine = con.execute("select source, line from raw_bank.quarantine order by source").fetchall()
        statements = con.execute(
            "select source, line_count, quarantined_line_count from raw_bank.statements order by source"
        ).fetchall()
    assert ("day1.bai", 1, 50000, "usd") in lines and ("day2.xml", 2, -1000, "eur") in lines
    assert quarantine == [("day2.xml", 24), ("export.csv", 3)]
    assert statements == [("day1.bai", 3, 0), ("day2.xml", 2, 1), ("export.csv", 2, 1)]
    # a second load of the same files adds nothing (merged on statement and position)
    load_bank(settings, pipelines_dir=tmp_path / "pipelines")
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw_bank.statement_lines").fetchone() == (7,)


def test_an_unreadable_file_stops_the_load_naming_it_unless_allowed(tmp_path: Path, bank_dir: Path) -> None:
    (bank_dir / "zz.xml").write_text("<not closed")
    with pytest.raises(UnreadableSourceError, match=r"zz\.xml"):
        load_bank(_settings(tmp_path, bank_dir), pipelines_dir=tmp_path / "pipelines")
    report = load_bank(_settings(tmp_path, bank_dir, allow_missing_sources=["bank/zz.xml"]),
                       pipelines_dir=tmp_path / "pipelines")
    assert report.table("statement_lines").skipped_sources == 1


def test_cli_exit_2_with_one_sentence_naming_the_file(
    tmp_path: Path, bank_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bank_dir / "day1.bai").write_text("01,garbage\n")
    code = main(["ingest", "bank", "--bank-dir", str(bank_dir), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 2
    assert "day1.bai" in err and err.strip().count("\n") == 0
