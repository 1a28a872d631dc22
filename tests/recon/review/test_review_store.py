"""The review's decisions store: append-only, hash-chained, and what is in force."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.errors import UserError
from recon.review.store import (
    ChainHead,
    DecisionStore,
    MatchChoice,
    Resolution,
    Shown,
    match_decision_rows,
    read_for_load,
    resolution_rows,
    store_head,
)

WRONG = MatchChoice("ch_1", "INV-1", "PMT-9", None, "charge_payment", "m1")
RIGHT = MatchChoice("ch_1", "INV-1", "PMT-1", None, "charge_payment")


@pytest.fixture
def store(tmp_path: Path) -> DecisionStore:
    return DecisionStore(tmp_path / "w.duckdb.review.sqlite")


def test_the_latest_decision_about_a_pair_is_in_force_and_an_undo_is_a_new_row(store: DecisionStore) -> None:
    confirmed = store.decide_matches([WRONG], "confirmed", who="ann", role="reviewer")[0]
    store.decide_matches([WRONG], "rejected", who="bob", role="approver")
    store.decide_matches([RIGHT], "confirmed", who="bob", role="approver")
    forced = store.in_force()
    assert {key: d.action for key, d in forced.matches.items()} == {
        ("ch_1", "PMT-9"): "rejected", ("ch_1", "PMT-1"): "confirmed",
    }
    undo = store.undo(store.all()[-1].decision_id, who="bob", role="approver")
    assert undo.action == "undone" and undo.decided_by == "bob"
    assert set(store.in_force().matches) == {("ch_1", "PMT-9")}
    assert [d.seq for d in store.all()] == [1, 2, 3, 4]  # nothing removed
    assert confirmed.decided_at.endswith("Z")
    with pytest.raises(UserError):
        store.undo(undo.decision_id, who="bob", role="approver")


def test_rows_for_the_warehouse_in_the_contract_shape(store: DecisionStore) -> None:
    store.decide_matches([WRONG], "rejected", who="ann", role="reviewer")
    store.decide_matches([RIGHT], "confirmed", who="ann", role="reviewer")
    store.resolve(Resolution("e1", "ch_2", "fee_variance", "expected_variance", "fee booked net"), who="ann", role="reviewer")
    rows = {row["decision"]: row for row in match_decision_rows(store.in_force())}
    # a rejection names the payment alone, so no document brings the pair back
    assert rows["rejected"]["match_decision_key"] == "ch_1||PMT-9|"
    assert rows["confirmed"]["match_decision_key"] == "ch_1|INV-1|PMT-1|"
    assert rows["confirmed"]["decided_by"] == "ann"
    (resolution,) = resolution_rows(store.in_force())
    assert (resolution["object_id"], resolution["exception_type"], resolution["disposition"]) == (
        "ch_2", "fee_variance", "expected_variance",
    )


def test_rows_are_never_updated_or_deleted(store: DecisionStore) -> None:
    store.decide_matches([RIGHT], "confirmed", who="ann", role="reviewer")
    con = sqlite3.connect(store.path)
    for statement in ("update decisions set decided_by = 'mallory'", "delete from decisions"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(statement)
    con.close()


def test_an_edit_behind_the_triggers_breaks_the_chain_and_stops_the_load(store: DecisionStore) -> None:
    store.decide_matches([WRONG], "rejected", who="ann", role="reviewer")
    store.decide_matches([RIGHT], "confirmed", who="ann", role="reviewer")
    assert store.verify().ok
    store.close()
    con = sqlite3.connect(store.path)
    con.execute("drop trigger decisions_never_updated")
    con.execute("update decisions set action = 'confirmed' where seq = 1")
    con.commit()
    con.close()
    with DecisionStore(store.path) as reopened:
        check = reopened.verify()
    assert not check.ok and check.broken_at == 1
    with pytest.raises(UserError, match="not intact: decision 1 was changed"):
        read_for_load(store.path)


def test_vocabulary_is_checked(store: DecisionStore) -> None:
    with pytest.raises(UserError):
        store.resolve(Resolution("e1", "ch_2", "bad_type", "expected_variance", ""), who="a", role="reviewer")
    with pytest.raises(UserError):
        store.decide_matches([WRONG], "maybe", who="a", role="reviewer")
    with pytest.raises(UserError):
        store.decide_matches([MatchChoice("ch_1", None, None, None)], "confirmed", who="a", role="reviewer")


def _cut_last_row(path: Path) -> None:
    """What someone with the file can do behind the triggers: remove the chain's last row."""
    con = sqlite3.connect(path)
    con.execute("drop trigger if exists decisions_never_deleted")
    con.execute("delete from decisions where seq = (select max(seq) from decisions)")
    con.commit()
    con.close()


def test_a_log_cut_short_after_a_load_stops_the_next_load(store: DecisionStore) -> None:
    store.decide_matches([WRONG], "rejected", who="ann", role="reviewer")
    store.decide_matches([RIGHT], "confirmed", who="ann", role="reviewer")
    first = read_for_load(store.path)  # the first load: nothing recorded yet
    assert first.head == ChainHead(2, store.all()[-1].row_hash) == store_head(store.path)
    store.close()

    _cut_last_row(store.path)

    with DecisionStore(store.path) as reopened:
        assert reopened.verify().ok  # the chain alone still looks whole
    with pytest.raises(UserError, match="lost decisions: the warehouse's last load verified 2 decision"):
        read_for_load(store.path, first.head)


def test_a_log_that_grew_or_was_rewritten_is_told_apart(store: DecisionStore) -> None:
    store.decide_matches([WRONG], "rejected", who="ann", role="reviewer")
    loaded = read_for_load(store.path).head
    store.decide_matches([RIGHT], "confirmed", who="ann", role="reviewer")
    grown = read_for_load(store.path, loaded)  # new decisions after the head: fine
    assert grown.head.rows == 2 and len(grown.matches) == 2

    _cut_last_row(store.path)
    _cut_last_row(store.path)
    with DecisionStore(store.path) as rewritten:  # as many rows again, another history
        rewritten.decide_matches([WRONG], "confirmed", who="mallory", role="reviewer")
        rewritten.decide_matches([RIGHT], "confirmed", who="mallory", role="reviewer")
        assert rewritten.verify().ok
    with pytest.raises(UserError, match="lost decisions"):
        read_for_load(store.path, grown.head)
    assert ChainHead(0, "0" * 64).held_by([])


def _cut_last_policy_change(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("drop trigger if exists policy_changes_never_deleted")
    con.execute("delete from policy_changes where seq = (select max(seq) from policy_changes)")
    con.commit()
    con.close()


def test_a_policy_log_cut_short_after_a_load_is_not_applied(store: DecisionStore) -> None:
    for limit in (50_000, 500):  # an admin narrows the rule: its last change is what holds it back
        store.change_policy("exception", "fee_variance", "usd", min_confidence="0.9", max_amount_minor=limit,
                            who="adam", role="admin")
    loaded = read_for_load(store.path)  # a load verifies and returns the policy log's head too
    assert loaded.policy_head == ChainHead(2, store.policy_changes()[-1].row_hash)
    assert [rule.max_amount_minor for rule in store.policy_in_force(loaded.policy_head)] == [500]
    store.close()

    _cut_last_policy_change(store.path)  # the wide rule is in force again, if nothing notices

    with DecisionStore(store.path) as reopened:
        assert reopened.verify_policy().ok  # the chain alone still looks whole
        assert [rule.max_amount_minor for rule in reopened.policy_in_force()] == [50_000]
        with pytest.raises(UserError, match=r"policy log .* lost changes: the warehouse's last load verified 2"):
            reopened.policy_in_force(loaded.policy_head)
    with pytest.raises(UserError, match="lost changes"):
        read_for_load(store.path, loaded.head, loaded.policy_head)
    # a log that only grew since holds the head
    with DecisionStore(store.path) as grown:
        grown.change_policy("exception", "fee_variance", "usd", min_confidence="0.9", max_amount_minor=400,
                            who="adam", role="admin")
        assert grown.policy_in_force(ChainHead(1, grown.policy_changes()[0].row_hash))


def test_what_an_exception_page_showed_is_kept_beside_its_resolution(store: DecisionStore) -> None:
    seen = Shown("model-v1", "auto_accepted", "fee_variance", "expected_variance")
    decision = store.resolve(
        Resolution("e1", "ch_2", "amount_mismatch", "true_exception", "not a fee"), who="ann", role="reviewer",
        shown=seen,
    )
    assert store.shown() == {decision.decision_id: seen}
