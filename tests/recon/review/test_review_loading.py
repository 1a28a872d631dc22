"""The review's decisions into the warehouse (recon.review.loading): each load records the chain
heads it verified (the decisions' and the auto-accept policy's), and a run refuses a log that no
longer holds its head (its last rows cut off)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import duckdb
import pytest

from core.errors import UserError
from core.settings import resolve
from recon.demo.run import serving
from recon.pipeline import ingest_erp, run_steps
from recon.review.loading import policy_in_force
from recon.review.store import DecisionStore, MatchChoice, default_store_path, store_head
from tests.recon.review.conftest import ReviewWorld


def test_a_run_refuses_a_decision_log_cut_short_since_the_last_load(review_world: ReviewWorld, tmp_path: Path) -> None:
    warehouse = review_world.copy_to(tmp_path / "warehouse")
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    with duckdb.connect(str(warehouse), read_only=True) as con:
        pairs = con.execute(
            "select stripe_object_id, erp_document_number, erp_payment_number, erp_journal_number, match_type, "
            "match_id from marts.fct_reconciliation_matches where erp_payment_number is not null "
            "order by match_id limit 2"
        ).fetchall()
    store_path = default_store_path(settings)
    with DecisionStore(store_path) as store:
        store.decide_matches([MatchChoice(*pairs[0])], "confirmed", who="rita", role="reviewer")
        store.decide_matches([MatchChoice(*pairs[1])], "rejected", who="rita", role="reviewer")
    head = store_head(store_path)

    def loaded() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return (
                con.execute("select decision_count, last_row_hash from raw_decisions.review_chain_heads").fetchall(),
                con.execute("select decision from raw_decisions.review_match_decisions order by decision").fetchall(),
            )

    with serving(review_world.world, settings) as run_settings:
        ingest_erp(run_settings)  # the run's first step loads the decisions and records the head
        assert head is not None and loaded() == ([(2, head.last_hash)], [("confirmed",), ("rejected",)])

        # someone with the file removes the last decision behind the triggers: the chain that is
        # left is intact row by row, and only the recorded head shows what is missing
        con = sqlite3.connect(store_path)
        con.execute("drop trigger decisions_never_deleted")
        con.execute("delete from decisions where seq = (select max(seq) from decisions)")
        con.commit()
        con.close()
        with DecisionStore(store_path) as store:
            assert store.verify().ok

        out = io.StringIO()
        with pytest.raises(UserError, match="lost decisions: the warehouse's last load verified 2 decision"):
            run_steps(run_settings, out)
    assert "== ingest stripe" not in out.getvalue()  # refused before anything else was loaded
    assert loaded() == ([(2, head.last_hash)], [("confirmed",), ("rejected",)])  # the last good load stands


def test_a_run_refuses_a_policy_log_cut_short_since_the_last_load(review_world: ReviewWorld, tmp_path: Path) -> None:
    warehouse = review_world.copy_to(tmp_path / "warehouse")
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    store_path = default_store_path(settings)
    with DecisionStore(store_path) as store:
        for limit in (50_000, 500):  # an admin narrows the rule: its last change holds it back
            store.change_policy("exception", "fee_variance", "usd", min_confidence="0.9", max_amount_minor=limit,
                                who="adam", role="admin")
        last = store.policy_changes()[-1].row_hash

    with serving(review_world.world, settings) as run_settings:
        ingest_erp(run_settings)  # the run's first step records the policy log's head beside the decisions'
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute(
                "select policy_change_count, last_row_hash from raw_decisions.review_policy_heads"
            ).fetchall() == [(2, last)]
        assert [r["max_amount_minor"] for r in policy_in_force(settings)["auto_accept_policy"]] == [500]

        # someone with the file removes the last change behind the triggers: the wide rule would
        # be in force again, and only the recorded head shows what is missing
        con = sqlite3.connect(store_path)
        con.execute("drop trigger policy_changes_never_deleted")
        con.execute("delete from policy_changes where seq = (select max(seq) from policy_changes)")
        con.commit()
        con.close()
        with DecisionStore(store_path) as store:
            assert store.verify_policy().ok

        # a build (a micro-batch's) does not apply it, and the next run stops at its first step
        with pytest.raises(UserError, match=r"policy log .* lost changes: the warehouse's last load verified 2"):
            policy_in_force(settings)
        out = io.StringIO()
        with pytest.raises(UserError, match="lost changes"):
            run_steps(run_settings, out)
    assert "== ingest stripe" not in out.getvalue()


def test_a_run_refuses_a_store_gone_since_the_last_load(review_world: ReviewWorld, tmp_path: Path) -> None:
    """The store deleted (or the warehouse moved without it) after a load: read as "no review yet",
    its decisions would stay in force and its policy fall back to the defaults without a word."""
    warehouse = review_world.copy_to(tmp_path / "warehouse")
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    store_path = default_store_path(settings)
    assert policy_in_force(settings) == policy_in_force(resolve(warehouse=str(tmp_path / "none.duckdb"), env={}))
    with DecisionStore(store_path) as store:
        store.change_policy("exception", "fee_variance", "usd", min_confidence="0.9", max_amount_minor=500,
                            who="adam", role="admin")

    with serving(review_world.world, settings) as run_settings:
        ingest_erp(run_settings)  # records the policy log's head (1 change) and the decisions' (none)
        assert [r["max_amount_minor"] for r in policy_in_force(settings)["auto_accept_policy"]] == [500]
        for path in store_path.parent.glob(store_path.name + "*"):  # the file and SQLite's -wal, -shm
            path.unlink()

        with pytest.raises(UserError, match=r"review's store .* is missing, but the warehouse's last load verified "
                                            r"1 policy change\(s\) from it: nothing was applied; restore"):
            policy_in_force(settings)
        out = io.StringIO()
        with pytest.raises(UserError, match="is missing"):
            run_steps(run_settings, out)
    assert "== ingest stripe" not in out.getvalue()
    assert not store_path.exists()  # not re-created empty by the refusal
