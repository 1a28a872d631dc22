"""A currency and a payment method the project did not know, added by configuration alone.

What a team does, done here in a copy of the project: two rows in seeds/currencies.csv (UYI, a
zero-decimal ISO 4217 currency, and XTS, ISO's code for tests, given three decimals) and one row
in seeds/payment_methods.csv (`bacs_debit`: final six days after the charge, 1 % + 0.20 capped
at 2.00), no code and no rule. A tiny world (200 sales in two months) whose JPY and KWD amounts are
relabelled UYI and XTS, and whose only other method is `bacs_debit` (some returned by the bank),
then goes through `recon run` of that copy, and `recon evaluate` scores it against its truth.

One pipeline run for the whole module (about a minute), shared by the xdist workers.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.settings import PROJECT_DIR
from tests.conftest import built_once

RELABEL = {"jpy": "uyi", "kwd": "xts"}
NEW_CURRENCIES = "uyi,0\nxts,3\n"
NEW_METHOD = "bacs_debit,6,100,20,200\n"
KEY = "sk_test_configured_world_41"
# what a team's checkout holds (no virtualenv, no warehouses, no build output, no trained model)
_BUILT = shutil.ignore_patterns(
    ".git", ".venv", "worlds", "warehouse", "target", "logs", "reports", "__pycache__", "*.egg-info",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "*.duckdb*",
)


def _not_copied(folder: str, names: list[str]) -> set[str]:
    trained = {"models"} if Path(folder).name == "ml" else set()
    return set(_BUILT(folder, names)) | trained


def _relabel(value: Any) -> Any:
    """Every `currency` of a Stripe object (nested ones too) relabelled."""
    if isinstance(value, dict):
        return {
            k: (RELABEL.get(v, v) if k == "currency" and isinstance(v, str) else _relabel(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_relabel(v) for v in value]
    return value


def _relabel_code(code: str) -> str:
    """An ERP currency as written (`JPY`, `jpy`, `Jpy`) relabelled in the same case."""
    new = RELABEL.get(code.strip().lower())
    if new is None:
        return code
    return new.upper() if code.isupper() else (new.capitalize() if code[:1].isupper() else new)


def _relabel_world(world: Path) -> None:
    for path in (world / "stripe").glob("*.jsonl"):
        lines = [json.dumps(_relabel(json.loads(line)), separators=(",", ":")) for line in path.open()]
        path.write_text("".join(line + "\n" for line in lines))
    for path in [*(world / "erp").glob("*.csv"), *(world / "truth").glob("*.csv")]:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if "currency" in rows[0]:
            at = rows[0].index("currency")
            for row in rows[1:]:
                if len(row) > at:
                    row[at] = _relabel_code(row[at])
        with path.open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)


def _build(root: Path) -> None:
    from demoworld.context import PaymentMethodSpec
    from demoworld.stripe_api import StripeAPIServer
    from demoworld.world import WorldSpec, generate_world

    project = root / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=_not_copied)
    with (project / "seeds" / "currencies.csv").open("a") as handle:
        handle.write(NEW_CURRENCIES)
    with (project / "seeds" / "payment_methods.csv").open("a") as handle:
        handle.write(NEW_METHOD)
    bacs = PaymentMethodSpec("bacs_debit", "gbp", 0.1, "debit", 6, 100, 20, 200, failure_rate=0.25)
    world = root / "world"
    # seed 5: JPY and KWD customers to relabel, and a dispute (a world without one has no
    # raw_stripe.disputes table, which staging does not survive yet)
    generate_world(WorldSpec(seed=5, scale=200, months=2, payment_methods=(bacs,)), world)
    _relabel_world(world)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(root),
        "PYTHONPATH": str(project),  # the copy's packages, not the installed ones
        "STRIPE_API_KEY": KEY,
        "RECON_STRIPE_MAX_RPS": "1000",
        "RECON_WAREHOUSE": str(root / "w.duckdb"),
        "RECON_ERP_DIR": str(world / "erp"),
        "RECON_DECISIONS_DIR": str(world / "decisions"),
        "DBT_TARGET_PATH": str(project / "target"),
        "DBT_LOG_PATH": str(project / "logs"),
        "RECON_REPORT_DIR": str(project / "reports"),
        "DO_NOT_TRACK": "1",
    }
    with StripeAPIServer(world, api_keys=(KEY,), index_path=root / "index.sqlite3") as server:
        run = subprocess.run(
            [sys.executable, "-m", "recon.cli", "run", "--stripe-api-base", server.url],
            capture_output=True, text=True, timeout=900, check=False, cwd=project, env=env,
        )
    (root / "run.log").write_text(f"exit {run.returncode}\n{run.stdout}\n{run.stderr}")
    evaluate = subprocess.run(
        [sys.executable, "-m", "recon.cli", "evaluate", "--world", str(world), "--json", str(root / "score.json")],
        capture_output=True, text=True, timeout=300, check=False, cwd=project, env=env,
    )
    (root / "evaluate.log").write_text(f"exit {evaluate.returncode}\n{evaluate.stdout}\n{evaluate.stderr}")


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_once(tmp_path_factory, "configured-currency-and-method", _build)


@pytest.fixture
def run_con(configured: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(configured / "w.duckdb"), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _truth(configured: Path, name: str) -> list[dict[str, str]]:
    return _rows(configured / "world" / "truth" / f"{name}.csv")


def test_the_run_used_the_copy_and_passed_its_checks(configured: Path) -> None:
    log = (configured / "run.log").read_text()
    assert log.startswith("exit 0\n"), log[-3000:]
    assert "== balance checks: done" in log and "0 failed" in log
    score = (configured / "evaluate.log").read_text()
    assert score.startswith("exit 0\n"), score[-3000:]


def test_a_currency_is_a_seed_row(configured: Path, run_con: duckdb.DuckDBPyConnection) -> None:
    """UYI (0 decimals) and XTS (3) load, convert exactly and reconcile like any currency."""
    charges = dict(
        run_con.execute(
            "select currency, count(*) from staging.stg_stripe__charges where currency in ('uyi', 'xts') group by 1"
        ).fetchall()
    )
    assert charges.get("uyi", 0) >= 5 and charges.get("xts", 0) >= 5, charges
    # nothing refused for its currency: the quarantine holds the world's planted bad rows only
    refused = run_con.execute("select count(*) from raw_erp.quarantine").fetchone()
    assert refused is not None and refused[0] == len(_truth(configured, "bad_rows"))
    # the ERP's major units to minor units by the seed's exponent, exactly
    raw = {
        row[0]: (row[1], row[2])
        for row in run_con.execute(
            "select payment_number, lower(trim(currency)), amount from raw_erp.payments"
            " where lower(trim(currency)) in ('uyi', 'xts')"
        ).fetchall()
    }
    staged = dict(
        run_con.execute(
            "select payment_number, amount_minor from staging.stg_erp__payments where currency in ('uyi', 'xts')"
        ).fetchall()
    )
    assert raw and set(raw) == set(staged)
    for payment, (currency, amount) in raw.items():
        exponent = 0 if currency == "uyi" else 3
        assert staged[payment] == int(Decimal(amount).scaleb(exponent)), (payment, amount)
    # as the books wrote them: XTS with three decimals, UYI with none
    written = _rows(configured / "world" / "erp" / "payments.csv")
    assert any(re.fullmatch(r"\d+\.\d{3}", r["amount"]) for r in written if r["currency"].lower() == "xts")
    assert all("." not in r["amount"] for r in written if r["currency"].lower() == "uyi")
    # every true pair in them found, nothing else
    truth = {
        (m["stripe_object_id"], m["erp_payment_number"])
        for m in _truth(configured, "matches")
        if m["match_type"] == "charge_payment"
    }
    found = set(
        run_con.execute(
            "select stripe_object_id, erp_payment_number from marts.fct_reconciliation_matches"
            " where match_type = 'charge_payment' and currency in ('uyi', 'xts')"
        ).fetchall()
    )
    ids = {row[0] for row in run_con.execute("select charge_id from staging.stg_stripe__charges where currency in ('uyi', 'xts')").fetchall()}
    assert found == {pair for pair in truth if pair[0] in ids}
    amounts = run_con.execute(
        "select count(*) from marts.fct_reconciliation_matches where currency in ('uyi', 'xts')"
        " and stripe_amount_minor <> erp_amount_minor"
    ).fetchone()
    anomalies = {a["object_id"] for a in _truth(configured, "anomalies")}
    assert amounts is not None and amounts[0] <= len(anomalies & ids)


def test_a_payment_method_is_a_seed_row(configured: Path, run_con: duckdb.DuckDBPyConnection) -> None:
    """bacs_debit, unknown to the project before its row: settled six days after the charge, its
    fee by its schedule, its receipts matched (also those booked when it was final), its returned
    debits the ERP booked and did not reverse each a debit_failed_after_booking, the reversed ones
    matched."""
    rows = run_con.execute(
        "select charge_id, settlement_days, fee_minor, expected_fee_minor, has_failed_after_success"
        " from intermediate.int_charges_enriched where payment_method_type = 'bacs_debit'"
    ).fetchall()
    assert len(rows) >= 15
    assert all(days == 6 and fee == expected for _, days, fee, expected, _ in rows), rows
    bacs = {row[0] for row in rows}
    returned = {row[0] for row in rows if row[4]}
    assert returned
    truth = {
        (m["stripe_object_id"], m["erp_payment_number"])
        for m in _truth(configured, "matches")
        if m["stripe_object_id"] in bacs
    }
    found = set(
        run_con.execute(
            "select stripe_object_id, erp_payment_number from marts.fct_reconciliation_matches"
            " where match_type = 'charge_payment'"
        ).fetchall()
    )
    assert truth and truth <= found
    late = run_con.execute(
        "select count(*) from marts.fct_reconciliation_matches as matches"
        " inner join intermediate.int_charges_enriched as charges on matches.stripe_object_id = charges.charge_id"
        " where charges.payment_method_type = 'bacs_debit' and matches.days_apart = 6"
    ).fetchone()
    assert late is not None and late[0] >= 1  # booked when the debit was final, still on time
    excepted = {
        row[0]
        for row in run_con.execute(
            "select object_id from marts.fct_reconciliation_exceptions where exception_type = 'debit_failed_after_booking'"
        ).fetchall()
    }
    assert excepted == {
        a["object_id"] for a in _truth(configured, "anomalies") if a["exception_type"] == "debit_failed_after_booking"
    }
    # The others the ERP reversed: each reversal matched to the return's balance transaction.
    reversed_ = {
        row[0]
        for row in run_con.execute(
            "select charges.charge_id from marts.fct_reconciliation_matches as matches"
            " inner join intermediate.int_charges_enriched as charges"
            " on matches.stripe_object_id = charges.failure_balance_transaction_id"
            " where charges.payment_method_type = 'bacs_debit' and matches.match_type = 'refund_payment'"
        ).fetchall()
    }
    assert excepted | reversed_ == returned and not excepted & reversed_


def test_the_world_scores_as_its_truth_says(configured: Path) -> None:
    figures = json.loads((configured / "score.json").read_text())
    line = (configured / "evaluate.log").read_text()
    assert "match_p=1.000 match_r=1.000 detect_r=1.000" in line, line[-2000:]
    assert figures["false_exceptions"] == 0, figures

