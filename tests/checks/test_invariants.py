"""Each invariant passes on the correct small warehouse and fails, naming itself and its rows,
on a copy broken on purpose for that invariant alone."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from checks import INVARIANTS, CheckReport, run_checks
from checks.rendering import BATCH, RANKED_VIOLATIONS, SQL_DIR, render_ranked
from checks.warehouse import SCHEMAS, currencies_values
from core.settings import Settings, resolve


def _settings(warehouse: Path) -> Settings:
    return resolve(warehouse=str(warehouse), target="duckdb", env={})


def _run(warehouse: Path, tmp_path: Path) -> CheckReport:
    return run_checks(_settings(warehouse), report_dir=tmp_path / "docs")


BREAKS = [
    pytest.param(
        ["update raw_stripe.balance_transactions set amount = 1001 where id = 'txn_ch1'"],
        "amount - fee = net", "txn_ch1", 1, id="amount-fee-net",
    ),
    pytest.param(
        ["delete from raw_stripe.payout_balance_transactions where balance_transaction_id = 'txn_re1'"],
        "paid payout = net of its composition", "po_1", -500, id="payout-composition",
    ),
    pytest.param(
        ["update raw_erp.gl_entries set credit = 30.01 where journal_number = 'JE-2' and line_number = '2'"],
        "every ERP journal balances", "JE-2", -1, id="journal-balances",
    ),
    pytest.param(
        ["delete from marts.fct_reconciliation_exceptions where object_id = 'PMT-5'"],
        "conservation: ERP payments by Stripe", "PMT-5", 700, id="conservation-erp-payment-unaccounted",
    ),
    pytest.param(
        ["update intermediate.int_gl_deposits_identified set is_stripe_deposit = true where journal_number = 'JE-2'"],
        "conservation: ERP bank deposits of Stripe payouts", "JE-2", 3000, id="conservation-deposit-unaccounted",
    ),
    pytest.param(
        ["update marts.fct_reconciliation_matches set stripe_amount_minor = 999 where match_id = 'm1'"],
        "conservation: succeeded Stripe charges", "ch_1", 1, id="conservation-charge-amount",
    ),
    pytest.param(
        ["update marts.fct_reconciliation_matches set stripe_amount_minor = 2350 where match_id = 'm4'"],
        "conservation: Stripe payouts", "po_1", 3, id="conservation-payout-amount",
    ),
    pytest.param(
        ["update marts.fct_reconciliation_matches set stripe_amount_minor = 1000 where match_id = 'm2'",
         "insert into marts.fct_reconciliation_matches values ('m5', 'charge_payment', 'ch_2', 'INV-3', null,"
         " null, 'match_customer_amount_date', 0.9, 'auto_matched', 'usd', 1000, 1000, 0, false)"],
        "Stripe object matched at most once per match type", "ch_2", 2000, id="matched-twice",
    ),
    pytest.param(
        ["update raw_decisions.match_decisions set erp_document_number = 'INV-2' where stripe_object_id = 'ch_2'"],
        "no match both confirmed and rejected", "ch_2", 2000, id="rejected-pair-still-matched",
    ),
    pytest.param(
        ["insert into marts.fct_reconciliation_matches values ('m1r', 'charge_payment', 'ch_1', 'INV-1',"
         " 'PMT-1', null, 'human_decision', 1, 'rejected', 'usd', 1000, 1000, 0, false)"],
        "no match both confirmed and rejected", "ch_1", 1000, id="pair-confirmed-and-rejected",
    ),
    pytest.param(
        ["update marts.rpt_payout_invoices set net_minor = 1900 where stripe_object_id = 'ch_2'"],
        "payout rollup", "po_1", 12, id="payout-rollup-invoices",
    ),
    pytest.param(
        ["update marts.rpt_payout_reconciliation set fees_minor = 148"],
        "payout rollup", "po_1", 1, id="payout-rollup-items",
    ),
    pytest.param(
        ["update marts.rpt_payout_reconciliation set failed_debits_minor = -7"],
        "payout rollup", "po_1", 7, id="payout-rollup-failed-debits",
    ),
    pytest.param(
        ["insert into raw_stripe.charges values ('ch_3', 700, 'usd', 'failed', 1700000160)"],
        "raw_stripe.charges: key id unique", "ch_3", 1400, id="raw-key-duplicate",
    ),
    pytest.param(
        ["update raw_stripe.charges set currency = 'xyz' where id = 'ch_3'"],
        "raw_stripe.charges: currency known", "ch_3", 700, id="raw-currency-unknown",
    ),
    pytest.param(
        ["update raw_erp.invoices set customer_number = null where document_number = 'INV-1'"],
        "raw_erp.invoices: required fields present", "INV-1", 1000, id="raw-required-field-missing",
    ),
    pytest.param(
        ["update raw_erp.invoices set amount = 20.005 where document_number = 'INV-2'"],
        "raw_erp.invoices: required fields present, amounts exact", "INV-2", 2001, id="raw-amount-not-exact",
    ),
    pytest.param(
        ["update raw_erp.quarantine set reason = null"],
        "raw_erp.quarantine: every bad row names", "q1", 0, id="quarantine-row-silent",
    ),
]


def test_correct_warehouse_passes_every_check(make_warehouse: Callable[..., Path], tmp_path: Path) -> None:
    report = _run(make_warehouse(), tmp_path)
    assert report.passed, report.render()
    assert not report.not_run
    assert len(report.passed_checks) >= 30
    # The quarantine is counted and reported, never a failure.
    assert any("quarantine: rows counted" in n.name and "1 row(s)" in n.text for n in report.notes)
    assert report.report_path is not None and report.report_path.exists()


@pytest.mark.parametrize(("breakage", "invariant", "object_id", "at_stake"), BREAKS)
def test_broken_warehouse_fails_naming_the_invariant_and_its_rows(
    make_warehouse: Callable[..., Path],
    tmp_path: Path,
    breakage: list[str],
    invariant: str,
    object_id: str,
    at_stake: int,
) -> None:
    report = _run(make_warehouse(*breakage), tmp_path)
    assert not report.passed
    assert not report.not_run, report.render()
    assert [f.invariant for f in report.failures if invariant in f.invariant], report.render()
    # That invariant alone.
    assert len(report.failures) == 1, report.render()
    failure = report.failures[0]
    assert failure.row_count == len(failure.rows) >= 1
    assert failure.rows[0].object_id == object_id
    assert failure.rows[0].at_stake_minor == at_stake
    text = report.render()
    assert invariant in text and object_id in text and "at stake" in text


def test_split_rule_may_match_one_charge_twice(make_warehouse: Callable[..., Path], tmp_path: Path) -> None:
    """A charge paying two invoices by a split rule is two rows, and that is allowed."""
    warehouse = make_warehouse(
        "update marts.fct_reconciliation_matches set stripe_amount_minor = 1500, erp_amount_minor = 2000,"
        " rule_name = 'match_split_payments' where match_id = 'm2'",
        "insert into marts.fct_reconciliation_matches values ('m5', 'charge_payment', 'ch_2', 'INV-3', null,"
        " null, 'match_split_payments', 0.9, 'suggested', 'usd', 500, 500, 0, true)",
    )
    report = _run(warehouse, tmp_path)
    assert report.passed, report.render()


def test_failure_shows_total_at_stake_per_currency(make_warehouse: Callable[..., Path], tmp_path: Path) -> None:
    warehouse = make_warehouse(
        "update raw_stripe.balance_transactions set amount = amount + 100 where type in ('charge', 'refund')",
        "insert into raw_stripe.balance_transactions values"
        " ('txn_jp', 5000, 0, 4000, 'jpy', 'adjustment', 'available', null, 1700000400)",
    )
    report = _run(warehouse, tmp_path)
    failure = next(f for f in report.failures if f.invariant == "amount - fee = net")
    assert failure.row_count == 4
    assert dict(failure.at_stake_by_currency) == {"usd": 300, "jpy": 1000}
    # Every currency shows among the first rows, the biggest first.
    assert {r.currency for r in failure.rows[:2]} == {"usd", "jpy"}
    text = failure.render()
    assert "1,000 JPY" in text and "3.00 USD" in text


def test_missing_marts_run_raw_suites_and_say_so(make_warehouse: Callable[..., Path], tmp_path: Path) -> None:
    from core.errors import UserError

    report = _run(make_warehouse(marts=False), tmp_path)
    assert not report.failures
    assert report.passed_checks
    assert report.marts_missing
    assert "the marts are not built" in report.render()
    with pytest.raises(UserError, match="marts are not built"):
        report.raise_for_status()


def test_raw_suite_alone_passes_without_marts(make_warehouse: Callable[..., Path], tmp_path: Path) -> None:
    report = run_checks(_settings(make_warehouse(marts=False)), report_dir=tmp_path / "d", suites=("raw",))
    assert report.passed, report.render()
    report.raise_for_status()


def test_failed_check_raises_checks_failed(make_warehouse: Callable[..., Path], tmp_path: Path) -> None:
    from core.errors import ChecksFailedError

    report = _run(make_warehouse("update raw_stripe.balance_transactions set net = 0 where id = 'txn_ch1'"), tmp_path)
    with pytest.raises(ChecksFailedError, match="amount - fee = net"):
        report.raise_for_status()


def test_each_rule_is_one_sql_file_and_each_file_a_rule() -> None:
    """Every invariant names its SQL file under checks/sql/, and every file there is some
    invariant's (or the wrapper and macros that every check shares)."""
    used = {inv.sql for inv in INVARIANTS}
    assert all((SQL_DIR / name).is_file() for name in used), sorted(n for n in used if not (SQL_DIR / n).is_file())
    files = {p.relative_to(SQL_DIR).as_posix() for p in SQL_DIR.rglob("*.sql")}
    shared = {RANKED_VIOLATIONS} | {n for n in files if n.startswith("macros/")}
    assert files - shared == used


@pytest.mark.parametrize("target", ["duckdb", "postgres", "spark"])
def test_rendered_queries_are_safe_for_great_expectations(target: str) -> None:
    """GX formats each query with `str.format` (only `{batch}` may be in braces) and SQLAlchemy
    reads `:name` as a bind parameter: a rendered check has neither, nor a `%`. On Spark none
    casts to `varchar`, which Spark refuses without a length (checks/rendering.py)."""
    schemas = {name: f"p_{name}" for name in SCHEMAS}
    for inv in INVARIANTS:
        context = {**schemas, "batch": BATCH, "currencies": currencies_values(), "target": target, **inv.params}
        sql = render_ranked(inv.sql, context)
        assert BATCH in sql, inv.name
        outside = sql.replace(BATCH, "")
        assert "{" not in outside and "}" not in outside, inv.name
        assert "%" not in sql and not re.search(r"(?<![:\w]):\w", sql), inv.name
        assert target != "spark" or "varchar" not in sql.lower(), inv.name


def test_data_docs_load_nothing_from_the_network(make_warehouse: Callable[..., Path], tmp_path: Path) -> None:
    """No page or stylesheet of the report loads a stylesheet, script, image or font over
    http(s): the pages link the local copies of checks/static/ instead of GX's CDNs. Links a
    person may click (`<a href>`) are allowed."""
    report = _run(make_warehouse("update raw_stripe.balance_transactions set net = 0 where id = 'txn_ch1'"), tmp_path)
    docs = tmp_path / "docs"
    pages = sorted(docs.rglob("*.html"))
    assert report.report_path == docs / "index.html" and len(pages) > 10
    remote = re.compile(
        r"""<(?:link|script|img|source|iframe|embed|object)\b[^>]*\b(?:src|href|data)\s*=\s*["']?https?://"""
        r"""|(?:url\(|@import)\s*["']?https?://""",
        re.IGNORECASE,
    )
    offenders = [
        f"{path.relative_to(docs)}: {match.group(0)}"
        for path in [*pages, *docs.rglob("*.css")]
        for match in remote.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "\n".join(offenders[:20])
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for asset in re.findall(r'(?:href|src)="([^"]*recon_offline\.(?:css|js))"', text):
            assert (page.parent / asset).resolve().is_file(), (page, asset)
        assert "recon_offline.css" in text and "recon_offline.js" in text, page
    # A second run into the same folder keeps every page offline and links the assets once.
    _run(make_warehouse(name="again.duckdb"), tmp_path)
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert index.count("recon_offline.css") == 1 and not remote.search(index)
