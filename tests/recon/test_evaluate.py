"""`recon evaluate` on a tiny hand-made world and warehouse: the practice scorer's conventions
(interchangeable groups, variance pairs, related ids, unseen anomalies, false exceptions by
scope, payouts by status and journal, decisions, quarantine), each figure worked out by hand."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from core.settings import resolve
from recon.cli import main
from recon.evaluate import evaluate, relabel, score, score_bank

SCORE_LINE = (
    "score: match_p=0.625 match_r=0.833 detect_r=1.000 type_acc=0.667 disp_acc=1.000 "
    "false_exc=3 payouts_ok=0.333 quarantine=1/2 rejected_back=1 confirmed_kept=1/1"
)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """Four charges (two of them an interchangeable group), a charge with a fee variance, a
    refund, three payouts; four anomalies, one of them resolved in decisions/."""
    root = tmp_path / "world"
    truth = root / "truth"
    _write(
        truth / "matches.csv",
        ["match_type", "stripe_object_id", "erp_document_number", "erp_payment_number", "erp_journal_number"],
        [
            ["charge_payment", "ch_1", "INV-1", "PMT-1", ""],
            ["charge_payment", "ch_2", "INV-2", "PMT-2", ""],
            ["charge_payment", "ch_3", "INV-3", "PMT-3", ""],
            ["charge_payment", "ch_4", "INV-4", "PMT-4", ""],
            ["refund_payment", "re_1", "CM-1", "PMT-5", ""],
            ["payout_deposit", "po_1", "", "", "JE-1"],
            ["payout_deposit", "po_2", "", "", "JE-2"],
            ["dispute_chargeback", "dp_1", "", "", "JE-3"],
        ],
    )
    _write(
        truth / "anomalies.csv",
        ["object_id", "side", "exception_type", "disposition", "currency", "amount_minor", "period", "note", "difference_minor"],
        [
            ["ch_4", "stripe", "fee_variance", "expected_variance", "usd", "1000", "2025-01", "", "-59"],
            ["ch_9", "stripe", "missing_in_erp", "true_exception", "usd", "500", "2025-02", "", ""],
            ["PMT-9", "erp", "missing_in_stripe", "true_exception", "usd", "700", "2025-02", "", ""],
            ["po_3", "stripe", "missing_deposit", "true_exception", "usd", "9000", "2025-02", "", ""],
        ],
    )
    _write(
        truth / "anomaly_related.csv",
        ["object_id", "exception_type", "related_id"],
        [["ch_4", "fee_variance", "INV-4"], ["ch_4", "fee_variance", "PMT-4"], ["PMT-9", "missing_in_stripe", "INV-9"]],
    )
    _write(truth / "resolved.csv", ["object_id"], [["ch_4"]])
    _write(truth / "interchangeable.csv", ["group", "stripe_object_id", "erp_document_number"],
           [["G1", "ch_2", "INV-2"], ["G1", "ch_3", "INV-3"]])
    _write(truth / "out_of_scope.csv", ["object_id", "scope"], [["ch_f", "failed_charge"], ["INV-w", "wire_check"]])
    _write(
        truth / "payouts.csv",
        ["payout_id", "status", "expected_recon_status", "erp_journal_number", "deposit_amount_minor",
         "payout_amount_minor", "invoice_count"],
        [
            ["po_1", "paid", "reconciled", "JE-1", "5000", "5000", "3"],
            ["po_2", "paid", "reconciled", "JE-2", "3000", "3000", "0"],
            ["po_3", "paid", "missing_deposit", "", "", "9000", "0"],
        ],
    )
    _write(truth / "payout_invoices.csv", ["payout_id", "erp_document_number", "stripe_object_id"],
           [["po_1", "INV-1", "ch_1"], ["po_1", "INV-2", "ch_2"], ["po_1", "INV-3", "ch_3"]])
    _write(truth / "mess.csv", ["knob", "stripe_object_id", "erp_object_id", "note"],
           [["twin_invoices", "ch_3", "INV-3", "second invoice"], ["bank_memos", "po_2", "JE-2", "memo"]])
    _write(truth / "bad_rows.csv", ["file", "line", "reason"],
           [["payments.csv", "7", "unparseable amount"], ["invoices.csv", "3", "unknown currency"]])
    _write(
        root / "decisions" / "match_decisions.csv",
        ["stripe_object_id", "erp_document_number", "erp_payment_number", "erp_journal_number",
         "decision", "decided_at", "decided_by"],
        [
            ["ch_1", "INV-1", "PMT-1", "", "confirmed", "2025-02-03T10:00:00Z", "a"],
            ["ch_2", "INV-9", "", "", "rejected", "2025-02-03T10:00:00Z", "a"],
            ["ch_3", "INV-1", "", "", "rejected", "2025-02-03T10:00:00Z", "a"],
        ],
    )
    counts = {"charges": 7, "charges_succeeded": 6, "refunds": 1, "disputes": 0, "payouts": 3}
    (root / "manifest.json").write_text(json.dumps({"counts": counts}))
    return root


MATCHES = [
    ("charge_payment", "ch_1", "INV-1", "PMT-1", None, "confirmed"),
    ("charge_payment", "ch_2", "INV-3", "PMT-3", None, "auto_matched"),  # swapped in its group
    ("charge_payment", "ch_3", "INV-2", "PMT-2", None, "suggested"),  # swapped in its group
    ("charge_payment", "ch_5", "INV-5", "PMT-6", None, "auto_matched"),  # a pair that is not true
    ("charge_payment", "ch_3", "INV-1", None, None, "suggested"),  # a rejected pair back
    ("charge_payment", "ch_2", "INV-9", None, None, "rejected"),  # rejected, as decided
    ("refund_payment", "re_1", "CM-1", "PMT-5", None, "auto_matched"),
    ("payout_deposit", "po_1", None, None, "JE-1", "auto_matched"),
    ("payout_deposit", "po_2", None, None, "JE-9", "auto_matched"),  # the wrong journal
    ("dispute_chargeback", "dp_1", None, None, "JE-3", "auto_matched"),  # listed, not scored
]
EXCEPTIONS = [
    ("ch_9", "stripe", "missing_in_erp", "true_exception"),  # unseen, right
    ("INV-9", "erp", "missing_in_erp", "true_exception"),  # PMT-9's related id: wrong type
    ("po_3", "stripe", "missing_deposit", "true_exception"),
    ("ch_f", "stripe", "missing_in_erp", "true_exception"),  # a failed charge: out of scope
    ("ch_1", "stripe", "timing_difference", "expected_variance"),  # reconciles
    ("xx_1", "erp", "missing_in_stripe", "true_exception"),  # neither
]
PAYOUTS = [("po_1", "reconciled", "JE-1"), ("po_2", "reconciled", "JE-9"), ("po_3", "reconciled", None)]
PAYOUT_INVOICES = [("po_1", "INV-3"), ("po_1", "INV-2"), ("po_1", "INV-1")]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "hand.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create schema raw_erp")
    con.execute(
        "create table marts.fct_reconciliation_matches (match_type varchar, stripe_object_id varchar, "
        "erp_document_number varchar, erp_payment_number varchar, erp_journal_number varchar, status varchar)"
    )
    con.executemany("insert into marts.fct_reconciliation_matches values (?, ?, ?, ?, ?, ?)", MATCHES)
    con.execute(
        "create table marts.fct_reconciliation_exceptions (object_id varchar, side varchar, "
        "exception_type varchar, disposition varchar)"
    )
    con.executemany("insert into marts.fct_reconciliation_exceptions values (?, ?, ?, ?)", EXCEPTIONS)
    con.execute(
        "create table marts.rpt_payout_reconciliation (payout_id varchar, status varchar, erp_journal_number varchar)"
    )
    con.executemany("insert into marts.rpt_payout_reconciliation values (?, ?, ?)", PAYOUTS)
    con.execute("create table marts.rpt_payout_invoices (payout_id varchar, erp_document_number varchar)")
    con.executemany("insert into marts.rpt_payout_invoices values (?, ?)", PAYOUT_INVOICES)
    con.execute(
        "create table raw_erp.quarantine (quarantine_id varchar, table_name varchar, source varchar, "
        "line bigint, reason varchar)"
    )
    con.execute(
        "insert into raw_erp.quarantine values ('q1', 'payments', '/books/payments.csv', 7, 'amount'), "
        "('q2', 'invoices', '/books/invoices.csv', 4, 'currency')"
    )
    con.close()
    return path


def test_figures_follow_the_practice_conventions(world: Path, warehouse: Path) -> None:
    result = evaluate(resolve(warehouse=str(warehouse), env={}), world)
    by_type = {m.match_type: m for m in result.matches}
    charge = by_type["charge_payment"]
    # the swapped pair of the interchangeable group counts; ch_4's variance pair is left out
    assert (charge.truth, charge.variance_pairs, charge.predicted, charge.correct, charge.found) == (3, 1, 5, 3, 3)
    assert (by_type["payout_deposit"].correct, by_type["payout_deposit"].truth) == (1, 2)
    assert result.unscored_match_types == {"dispute_chargeback": 1}
    assert (result.match_precision, result.match_recall) == (0.625, 0.8333)
    # ch_4 (resolved) is missed; the unseen three are all detected, PMT-9 through INV-9
    assert (result.all_anomalies.anomalies, result.all_anomalies.detected) == (4, 3)
    assert (result.unseen.anomalies, result.unseen.detected, result.unseen.type_ok) == (3, 3, 2)
    assert result.missed_anomalies == [("ch_4", "fee_variance")]
    assert result.false_exceptions == 3
    assert result.false_by_scope == {"failed_charge": 1, "reconciled": 1, "other": 1}
    assert result.false_exception_share == pytest.approx(0.3)  # of 10 Stripe items
    assert (result.payouts_ok, result.payouts_status_correct, result.payouts_journal_correct) == (1, 2, 2)
    assert result.payout_status_errors == {"missing_deposit->reconciled": 1}
    assert result.payout_invoices_found == 3  # INV-2 and INV-3 swapped within their group
    assert (result.rejected_back, result.confirmed_kept) == (1, 1)
    assert result.quarantine_found == 1  # invoices.csv line 3 is not the quarantined line 4
    assert result.score_line() == SCORE_LINE
    # which phenomenon of the books the misses and the wrong pairs come from
    assert result.missed_by_knob == {"bank_memos": 1}
    assert result.wrong_by_knob == {"-": 1, "bank_memos": 1, "twin_invoices": 1}


def test_a_predicted_variance_pair_is_right_and_recall_stays(world: Path) -> None:
    rows = [
        ("charge_payment", "ch_1", "INV-1", "PMT-1", None, "auto_matched"),
        ("charge_payment", "ch_4", "INV-4", "PMT-4", None, "auto_matched"),
    ]
    result = score(world, rows, [], [])
    charge = next(m for m in result.matches if m.match_type == "charge_payment")
    assert (charge.predicted, charge.correct, charge.found, charge.truth) == (2, 2, 1, 3)
    assert charge.precision == 1.0 and charge.recall == 0.3333


def test_relabel_keeps_the_best_assignment_and_only_within_a_group() -> None:
    truth = frozenset({("ch_2", "INV-2"), ("ch_3", "INV-3")})
    swapped = {("ch_2", "INV-3"), ("ch_3", "INV-2"), ("ch_7", "INV-7")}
    assert relabel(swapped, truth, [("INV-2", "INV-3")]) == {("ch_2", "INV-2"), ("ch_3", "INV-3"), ("ch_7", "INV-7")}
    # both charges on one document: only one of them can be right
    both = {("ch_2", "INV-2"), ("ch_3", "INV-2")}
    assert len(relabel(both, truth, [("INV-2", "INV-3")]) & truth) == 1


def test_evaluate_command_prints_the_score_line_and_writes_json(
    world: Path, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json = tmp_path / "figures.json"
    code = main(["evaluate", "--world", str(world), "--warehouse", str(warehouse), "--json", str(out_json)])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == SCORE_LINE
    figures = json.loads(out_json.read_text())
    assert figures["false_exceptions"] == 3 and figures["unseen"]["detect_recall"] == 1.0


def test_evaluate_without_a_truth_folder_exits_2(
    tmp_path: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--world", str(tmp_path), "--warehouse", str(warehouse)]) == 2
    assert "no truth/ folder" in capsys.readouterr().err


def test_bank_side_counts_wrong_lines_and_false_exceptions(tmp_path: Path) -> None:
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "bank_lines.csv").write_text(
        "file,statement_id,position,amount_minor,payout_id,erp_journal_number,status\n"
        "a.csv,a,1,100,po_1,JE-1,reconciled\n"
        "a.csv,a,2,-50,,,not_stripe\n"
    )
    (truth / "bank_exceptions.csv").write_text("object_id,exception_type\npo_2,payout_not_received_by_bank\n")
    right = score_bank(
        tmp_path,
        [("a.csv", 1, "po_1", "JE-1", "reconciled"), ("a.csv", 2, None, None, "not_stripe")],
        [("po_2", "payout_not_received_by_bank")],
        [("received", 1)],
    )
    assert right is not None and (right.lines_right, right.exceptions_found, right.false_exceptions) == (2, 1, 0)
    wrong = score_bank(
        tmp_path,
        [("a.csv", 1, "po_9", "JE-1", "reconciled")],
        [("a.csv|a|2", "unexplained_bank_credit")],
        [],
    )
    assert wrong is not None
    assert (wrong.lines_right, wrong.lines_found, wrong.exceptions_found, wrong.false_exceptions) == (0, 1, 0, 1)
    assert score_bank(tmp_path / "nowhere", [], [], []) is None
