"""The three-way view on the session's demo world (its bank statements in BAI2, camt.053 and CSV,
loaded by the demo run): every statement line's payout, journal and status and every bank
exception as the world's truth says; and a statement that does not add up is an exception row,
not a failed build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from recon.dbt import run_dbt
from recon.evaluate import score_bank


def test_three_way_view_agrees_with_the_worlds_truth(built: Any, con: Any) -> None:
    lines = con.sql(
        "select source_file, line_position, payout_id, erp_journal_number, status from marts.rpt_bank_reconciliation"
    ).fetchall()
    exceptions = con.sql("select object_id, exception_type from marts.fct_bank_exceptions").fetchall()
    statuses = con.sql("select bank_status, count(*) from marts.rpt_payout_reconciliation group by 1").fetchall()
    score = score_bank(built.world, lines, exceptions, statuses)
    assert score is not None
    assert score.lines_right == score.lines, score.wrong_lines[:5]
    assert score.exceptions_found == score.exceptions and score.false_exceptions == 0, score.false_examples
    # every payout that arrived inside the statements is accounted for by the bank one way or another
    assert set(score.payout_bank_status) <= {"received", "fee_taken", "returned", "not_received", "no_statement"}


def test_a_statement_that_does_not_add_up_is_an_exception_not_a_failed_build(
    demo_run: Any, tmp_path: Path
) -> None:
    warehouse = demo_run.copy_to(tmp_path / "unbalanced.duckdb")
    with duckdb.connect(str(warehouse)) as db:
        key, amount = db.execute(
            "select statement_key, amount_minor from raw_bank.statement_lines order by line_id limit 1"
        ).fetchone() or ("", 0)
        db.execute("delete from raw_bank.statement_lines where statement_key = ? and amount_minor = ?", [key, amount])
    result = run_dbt(
        ["build", "--select", "int_bank_statements_balanced", "fct_bank_exceptions"],
        {"RECON_WAREHOUSE": str(warehouse), "RECON_TARGET": "duckdb"},
    )
    assert result.success
    with duckdb.connect(str(warehouse), read_only=True) as db:
        rows = db.execute(
            "select object_id, difference_minor from marts.fct_bank_exceptions "
            "where exception_type = 'bank_statement_out_of_balance'"
        ).fetchall()
    assert rows == [(key, amount)]
