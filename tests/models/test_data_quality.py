"""Data quality never stops the marts: books with every kind of referential defect go through the
real load and `dbt build`; each defect is a warn-severity test, a row of rpt_data_quality_issues
(and of the quarantine where the load refused it), and a count in the summary."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.errors import ChecksFailedError
from core.settings import Settings, resolve

WORLD_SEED = 3
WORLD_SCALE = 300
WORLD_MONTHS = 2
MARTS = (
    "fct_reconciliation_matches",
    "fct_reconciliation_exceptions",
    "rpt_payout_reconciliation",
    "rpt_payout_invoices",
    "rpt_data_quality_issues",
)

# (issue_kind, row_key) of every defect written into the books below.
EXPECTED_FINDINGS = {
    ("payment_document_quarantined", "PMT-DQ-1"),
    ("payment_document_not_in_export", "PMT-DQ-2"),
    ("journal_document_quarantined", "JE-DQ-1|INV-DQ-1|usd"),
    ("journal_document_not_in_export", "JE-DQ-2|INV-DQ-UNKNOWN|usd"),
    ("gl_account_without_role", "8888|usd"),
    ("journal_unbalanced", "JE-DQ-4|usd"),
    ("decision_unknown_object", "ch_DQunknown|INV-DQ-NOWHERE||"),
    ("decision_unknown_object", "ch_DQnowhere|missing_in_erp"),
    ("refund_charge_not_loaded", "re_DQorphan"),
}
# The warn-severity test each defect trips (a piece of the dbt test's name).
EXPECTED_WARNINGS = (
    "relationships_stg_erp__payments_document_number",
    "relationships_stg_erp__gl_entries_document_number",
    "not_null_int_gl_lines_classified_account_role",
    "erp_journals_balance",
    "decisions_name_known_objects",
    "relationships_stg_stripe__refunds_charge_id",
)


def _append_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        for row in rows:
            writer.writerow({name: row.get(name, "") for name in header})


def _invoice(number: str, amount: str) -> dict[str, str]:
    return {
        "document_number": number,
        "document_type": "invoice",
        "customer_number": "C-DQ",
        "customer_name": "Data Quality Ltd",
        "document_date": "2025-01-15",
        "currency": "USD",
        "amount": amount,
        "status": "open",
    }


def _payment(number: str, document: str, amount: str, method: str) -> dict[str, str]:
    return {
        "payment_number": number,
        "document_number": document,
        "payment_date": "2025-01-16",
        "currency": "usd",
        "amount": amount,
        "payment_method": method,
    }


def _line(
    journal: str, line: int, account: str, debit: str, credit: str, document: str = ""
) -> dict[str, str]:
    return {
        "journal_number": journal,
        "line_number": str(line),
        "posting_date": "2025-01-16",
        "account_number": account,
        "debit": debit,
        "credit": credit,
        "currency": "USD",
        "memo": "data quality test",
        "document_number": document,
    }


def _rewrite_csv(path: Path, change: Any) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(change(row) for row in rows)


def write_matched_defects(world: Path) -> set[tuple[str, str]]:
    """The practice world's failure, in the world's own rows: receipts that name their charge (so
    they match) applied to an invoice the load quarantines, or to one the export does not hold.
    Returns the findings they must raise (their payment numbers are the world's)."""
    erp = world / "erp"
    with (erp / "payments.csv").open(newline="", encoding="utf-8") as handle:
        named = [
            row
            for row in csv.DictReader(handle)
            if (row["memo"] or "").startswith("ch_") and row["document_number"]
        ]
    quarantined, moved = named[0], named[1]

    def refuse(row: dict[str, str]) -> dict[str, str]:
        if row["document_number"] == quarantined["document_number"]:
            return {**row, "amount": "1.204,50"}
        return row

    def move(row: dict[str, str]) -> dict[str, str]:
        if row["payment_number"] == moved["payment_number"]:
            return {**row, "document_number": "INV-DQ-GONE"}
        return row

    _rewrite_csv(erp / "invoices.csv", refuse)
    _rewrite_csv(erp / "payments.csv", move)
    return {
        ("payment_document_quarantined", quarantined["payment_number"]),
        ("payment_document_not_in_export", moved["payment_number"]),
    }


def write_defects(world: Path) -> set[tuple[str, str]]:
    """The defects of real books, added to a clean demo world's files; returns the findings of
    those written into the world's own rows (write_matched_defects), beside EXPECTED_FINDINGS."""
    erp, decisions = world / "erp", world / "decisions"
    matched = write_matched_defects(world)
    # An invoice the load refuses (an ambiguous amount), still named by a receipt and a journal.
    _append_csv(erp / "invoices.csv", [_invoice("INV-DQ-1", "1,204.50")])
    _append_csv(
        erp / "payments.csv",
        [
            _payment("PMT-DQ-1", "INV-DQ-1", "1204.50", "wire"),
            # A receipt applied to a document the export does not hold.
            _payment("PMT-DQ-2", "INV-DQ-OUTSIDE", "10.00", "stripe"),
        ],
    )
    _append_csv(
        erp / "gl_entries.csv",
        [
            _line("JE-DQ-1", 1, "1200", "1204.50", "", "INV-DQ-1"),
            _line("JE-DQ-1", 2, "4000", "", "1204.50", "INV-DQ-1"),
            # A journal naming an unknown document.
            _line("JE-DQ-2", 1, "1200", "25.00", "0", "INV-DQ-UNKNOWN"),
            _line("JE-DQ-2", 2, "4000", "0", "25.00", "INV-DQ-UNKNOWN"),
            # A line on an account neither the ERP's chart nor the seed maps.
            _line("JE-DQ-3", 1, "8888", "15.00", ""),
            _line("JE-DQ-3", 2, "1200", "", "15.00"),
            # A journal that does not balance.
            _line("JE-DQ-4", 1, "1200", "10.00", ""),
            _line("JE-DQ-4", 2, "4000", "", "9.00"),
        ],
    )
    # Decisions naming objects no side has.
    _append_csv(
        decisions / "match_decisions.csv",
        [
            {
                "stripe_object_id": "ch_DQunknown",
                "erp_document_number": "INV-DQ-NOWHERE",
                "decision": "rejected",
                "decided_at": "2025-02-01T10:00:00Z",
                "decided_by": "test",
            }
        ],
    )
    _append_csv(
        decisions / "exception_resolutions.csv",
        [
            {
                "object_id": "ch_DQnowhere",
                "exception_type": "missing_in_erp",
                "disposition": "true_exception",
                "resolved_at": "2025-02-01T10:00:00Z",
                "resolved_by": "test",
            }
        ],
    )
    # A Stripe refund of a charge the warehouse never got.
    with (world / "stripe" / "refunds.jsonl").open("a", encoding="utf-8") as handle:
        refund = {
            "id": "re_DQorphan",
            "object": "refund",
            "amount": 700,
            "balance_transaction": None,
            "charge": "ch_DQnotloaded",
            "created": 1737000000,
            "currency": "usd",
            "metadata": {},
            "payment_intent": None,
            "reason": "requested_by_customer",
            "status": "succeeded",
        }
        handle.write(json.dumps(refund) + "\n")
    return matched


@dataclass(frozen=True)
class Built:
    settings: Settings
    result: Any
    failure: ChecksFailedError | None
    summary: Any
    findings: frozenset[tuple[str, str]] = frozenset()  # every finding the books must raise


def _load_and_build(world: Path, warehouse: Path) -> Built:
    from recon.dbt import run_dbt, settings_env
    from recon.demo.run import serving
    from recon.ingesting import ingest_erp, ingest_stripe
    from recon.summary import summarize

    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    with serving(world, settings) as served:
        ingest_stripe(served)
        ingest_erp(served)
        try:
            result, failure = run_dbt(["build"], settings_env(served)), None
        except ChecksFailedError as error:
            result, failure = None, error
        summary = summarize(served) if failure is None else None
    return Built(settings, result, failure, summary)


@pytest.fixture(scope="module")
def clean_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demoworld.world import WorldSpec, generate_world

    world = tmp_path_factory.mktemp("dq") / "clean"
    generate_world(WorldSpec(seed=WORLD_SEED, scale=WORLD_SCALE, months=WORLD_MONTHS), world)
    return world


@pytest.fixture(scope="module")
def defects_built(clean_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("dq-defects")
    world = root / "world"
    shutil.copytree(clean_world, world, ignore=shutil.ignore_patterns("*.sqlite*"))
    matched = write_defects(world)
    built = _load_and_build(world, root / "recon.duckdb")
    return Built(built.settings, built.result, built.failure, built.summary, frozenset(EXPECTED_FINDINGS | matched))


def _rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_every_mart_builds(defects_built: Built) -> None:
    assert defects_built.failure is None, str(defects_built.failure)
    statuses = {r.node.name: str(r.status) for r in defects_built.result.result.results}
    for mart in MARTS:
        assert statuses.get(mart) == "success", (mart, statuses.get(mart))
    assert not {name for name, status in statuses.items() if status in ("fail", "error", "skipped")}


def test_each_defect_is_a_warning(defects_built: Built) -> None:
    assert defects_built.failure is None, str(defects_built.failure)
    warned = {
        r.node.name: r.failures for r in defects_built.result.result.results if str(r.status) == "warn"
    }
    for piece in EXPECTED_WARNINGS:
        found = [name for name in warned if piece in name]
        assert found, f"no warning from a test named like {piece}: {sorted(warned)}"
        assert all(warned[name] for name in found)


def test_each_defect_is_a_finding(defects_built: Built) -> None:
    assert defects_built.failure is None, str(defects_built.failure)
    found = set(
        _rows(defects_built.settings, "select issue_kind, row_key from marts.rpt_data_quality_issues")
    )
    # Exactly these: the clean world's books themselves raise none.
    assert found == defects_built.findings


def test_a_quarantined_reference_says_where_and_why(defects_built: Built) -> None:
    assert defects_built.failure is None, str(defects_built.failure)
    (quarantined,) = _rows(
        defects_built.settings,
        "select quarantine_id, source_file, line_number, reason from staging.stg_erp__quarantine "
        "where table_name = 'invoices' and row_key = 'INV-DQ-1'",
    )
    quarantine_id, source_file, line, reason = quarantined
    assert "which one is the decimal mark is ambiguous" in reason
    (finding,) = _rows(
        defects_built.settings,
        "select detail, quarantine_id, currency, amount_minor from marts.rpt_data_quality_issues "
        "where row_key = 'PMT-DQ-1'",
    )
    detail, finding_quarantine_id, currency, amount_minor = finding
    assert finding_quarantine_id == quarantine_id
    assert f"{source_file} line {line}" in detail and reason in detail
    assert (currency, amount_minor) == ("usd", 120450)


def test_the_summary_counts_them(defects_built: Built) -> None:
    assert defects_built.failure is None, str(defects_built.failure)
    summary = defects_built.summary
    expected: dict[str, int] = {}
    for kind, _ in defects_built.findings:
        expected[kind] = expected.get(kind, 0) + 1
    assert summary.findings == expected
    stored = dict(
        _rows(
            defects_built.settings,
            "select 'erp.' || table_name, count(*) from staging.stg_erp__quarantine group by 1",
        )
    )
    assert stored["erp.invoices"] >= 1
    for table, count in stored.items():
        assert summary.quarantined[table] == count
    text = summary.render()
    assert f"Data quality findings: {len(defects_built.findings)}" in text
    assert "payment_document_quarantined" in text and "erp.invoices" in text


def test_the_summary_names_stale_books(defects_built: Built, tmp_path: Path) -> None:
    """A load allowed to go on without an unreadable file: the summary says those books are
    stale and since when, the others are not."""
    from ingest.erp import load_erp
    from recon.summary import summarize

    assert defects_built.failure is None, str(defects_built.failure)
    warehouse = tmp_path / "recon.duckdb"
    shutil.copy(defects_built.settings.warehouse, warehouse)
    erp = tmp_path / "erp"
    shutil.copytree(defects_built.settings.warehouse.parent / "world" / "erp", erp)
    (erp / "payments.csv").write_bytes("payment_number,amount\n".encode("utf-16"))
    settings = resolve(
        warehouse=str(warehouse), erp_dir=str(erp), allow_missing_sources=["erp/payments"], env={}
    )
    assert not summarize(settings).stale  # the build's own load read every file

    load_erp(settings, pipelines_dir=tmp_path / "pipelines")
    summary = summarize(settings)

    assert [name for name, _, _ in summary.stale] == ["erp/payments"]
    (_, reason, last_good) = summary.stale[0]
    assert "UTF-16" in reason and last_good.endswith("UTC")
    assert "Stale books: 1 input(s)" in summary.render()
