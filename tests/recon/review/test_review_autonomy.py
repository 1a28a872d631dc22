"""The auto-accept policy and the autonomy page: the settings page (an admin changes the policy,
each change logged), the policy reaching the run's dbt build (the queue changes), the autonomy
figures from a known small set of decisions, audits, and the store's audit kind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from core.errors import UserError
from core.settings import resolve
from recon.pipeline import build_downstream, policy_in_force
from recon.review.app import ReviewConfig
from recon.review.autonomy import Rate, audits_in_force, measure, wilson
from recon.review.reads import QueueFilter, Warehouse
from recon.review.store import (
    DecisionStore,
    default_store_path,
)
from tests.recon.review.conftest import ReviewWorld, users_file
from tests.recon.review.test_review_app import TestClient, csrf_of, serving, sign_in


@pytest.fixture
def config(review_world: ReviewWorld, tmp_path: Path) -> ReviewConfig:
    return ReviewConfig(
        settings=resolve(warehouse=str(review_world.warehouse), target="duckdb", env={}),
        users_path=users_file(tmp_path),
        store_path=tmp_path / "review.sqlite",
        secret="y" * 64,
    )


@pytest.fixture
def client(config: ReviewConfig) -> Iterator[TestClient]:
    with serving(config) as browser:
        yield browser


def _rule(**changes: str) -> dict[str, str]:
    return {"action": "set", "rule_type": "exception:rounding", "currency": "usd", "min_confidence": "0.9",
            "max_amount": "50.00", **changes}


def test_only_an_admin_changes_the_policy_and_every_change_is_logged(
    client: TestClient, config: ReviewConfig
) -> None:
    token = sign_in(client, "rita")
    page = client.get("/settings")
    assert page.status_code == 200 and "Only an admin changes the policy" in page.text
    assert client.post("/settings/policy", data={"csrf": token, **_rule()}).status_code == 403

    token = sign_in(client, "adam")
    assert 'action="/settings/policy"' in client.get("/settings").text
    assert client.post("/settings/policy", data=_rule()).status_code == 403  # no CSRF token
    for wrong in (_rule(min_confidence="1.5"), _rule(currency="jpy", max_amount="10.5"),
                  _rule(rule_type="match:no_such_type"), _rule(currency="xx'"), _rule(max_amount="-3")):
        assert client.post("/settings/policy", data={"csrf": token, **wrong}).status_code == 400, wrong
    with DecisionStore(config.store_path) as store:
        assert store.policy_changes() == []

    assert client.post("/settings/policy", data={"csrf": token, **_rule()}).status_code == 303
    assert client.post("/settings/policy", data={"csrf": token, **_rule(min_confidence="0.95")}).status_code == 303
    page = client.get("/settings").text
    assert "USD 50.00" in page and "0.95" in page
    with DecisionStore(config.store_path) as store:
        changes = store.policy_changes()
        (rule,) = store.policy_in_force()
        assert [(c.changed_by, c.changed_role, c.action) for c in changes] == [("adam", "admin", "set")] * 2
        assert (rule.kind, rule.item_type, rule.currency, rule.min_confidence, rule.max_amount_minor) == (
            "exception", "rounding", "usd", "0.95", 5000,
        )
    with sqlite3.connect(config.store_path) as con, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("update policy_changes set min_confidence = '0'")

    remove = {"csrf": token, "action": "remove", "kind": "exception", "item_type": "rounding", "currency": "usd"}
    assert client.post("/settings/policy", data=remove).status_code == 303
    with DecisionStore(config.store_path) as store:
        assert store.policy_in_force() == [] and [c.action for c in store.policy_changes()][-1] == "removed"


def test_the_policy_in_force_reaches_the_run_and_changes_the_queue(review_world: ReviewWorld, tmp_path: Path) -> None:
    warehouse = review_world.copy_to(tmp_path / "warehouse")
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    world_default = {"review_min_confidence": 0.97}  # the review world's tightened default (conftest)
    queued = Warehouse(settings).queue(QueueFilter(kind="exception"), page_size=10_000)
    assert queued.items, "the review world queues exceptions"
    most = max(
        {(i.item_type, i.currency) for i in queued.items},
        key=lambda key: sum(1 for i in queued.items if (i.item_type, i.currency) == key),
    )
    amounts = [abs(i.amount_minor) for i in queued.items if (i.item_type, i.currency) == most]
    assert policy_in_force(settings) == {"auto_accept_policy": []}  # no store yet: the defaults

    with DecisionStore(default_store_path(settings)) as store:
        store.change_policy("exception", most[0], most[1], min_confidence="0", max_amount_minor=max(amounts),
                            who="adam", role="admin")
    build_downstream(settings, {**world_default, **policy_in_force(settings)})
    after = Warehouse(settings).queue(QueueFilter(kind="exception"), page_size=10_000)
    assert not [i for i in after.items if (i.item_type, i.currency) == most]
    assert len(after.items) == len(queued.items) - len(amounts)

    # one minor unit below the largest: that one item waits for a person again
    with DecisionStore(default_store_path(settings)) as store:
        store.change_policy("exception", most[0], most[1], min_confidence="0", max_amount_minor=max(amounts) - 1,
                            who="adam", role="admin")
    build_downstream(settings, {**world_default, **policy_in_force(settings)})
    again = Warehouse(settings).queue(QueueFilter(kind="exception"), page_size=10_000)
    assert [abs(i.amount_minor) for i in again.items if (i.item_type, i.currency) == most] == [max(amounts)] * amounts.count(
        max(amounts)
    )


def _auto_matched(config: ReviewConfig) -> list[tuple[object, ...]]:
    with duckdb.connect(str(config.settings.warehouse), read_only=True) as con:
        return con.execute(
            "select match_id, match_type, rule_name, currency, stripe_amount_minor, stripe_object_id "
            "from marts.fct_reconciliation_matches where status = 'auto_matched' order by match_id"
        ).fetchall()


def test_the_autonomy_figures_follow_a_known_set_of_decisions(client: TestClient, config: ReviewConfig) -> None:
    auto = _auto_matched(config)
    assert len(auto) > 3, "the review world auto-matches pairs"
    warehouse = Warehouse(config.settings)
    with DecisionStore(config.store_path) as store:
        before = measure(warehouse, store.in_force(), [], store.shown())
    kind_type = ("match", str(auto[0][1]))
    line = next(line for line in before.per_type if (line.kind, line.item_type) == kind_type)
    of_type = [row for row in auto if row[1] == auto[0][1]]
    assert line.straight_through == len(of_type) and line.reversals == 0 and line.audit_error == Rate(0, 0)
    money: dict[str, int] = {}
    for row in of_type:
        money[str(row[3])] = money.get(str(row[3]), 0) + int(str(row[4]))
    assert line.money == money
    assert [s.item_id for s in before.sample] == [s.item_id for s in measure(  # reproducible
        warehouse, DecisionStore(config.store_path).in_force(), [], {}).sample]

    # a reviewer rejects an auto-matched pair on its page: a reversal of its rule
    token = sign_in(client, "rita")
    reversed_id, _, rule, currency, amount, _ = auto[0]
    answer = client.post(f"/match/{reversed_id}/decide", data={"csrf": token, "action": "reject", "counterpart": ""})
    assert answer.status_code == 303
    # and audits two items of the sample: one right, one wrong
    page = client.get("/autonomy").text
    sample = [s for s in before.sample if s.item_id != reversed_id][:2]
    assert all(s.item_id in page for s in sample)
    for item, verdict in zip(sample, ("right", "wrong"), strict=True):
        assert client.post("/audit", data={"csrf": csrf_of(page), "item_id": item.item_id, "verdict": verdict}).status_code == 303
    assert client.post("/audit", data={"csrf": csrf_of(page), "item_id": sample[0].item_id, "verdict": "right"}).status_code == 303

    with DecisionStore(config.store_path) as store:
        rows = store.all()
        audits = audits_in_force(rows)
        after = measure(warehouse, store.in_force(), audits, store.shown())
        assert store.verify().ok
    assert [(a.kind, a.action) for a in audits] == [("audit", "confirmed"), ("audit", "rejected")]  # once each
    line = next(line for line in after.per_type if (line.kind, line.item_type) == kind_type)
    assert line.straight_through == len(of_type) - 1 and line.reversals == 1 and line.touched == 1
    assert line.money.get(str(currency), 0) == money[str(currency)] - int(str(amount))
    audited_of_type = [s for s in sample if (s.kind, s.item_type) == kind_type]
    assert line.audit_right + line.audit_wrong == len(audited_of_type)
    total = [(lin.audit_right, lin.audit_wrong) for lin in after.per_type]
    assert (sum(r for r, _ in total), sum(w for _, w in total)) == (1, 1)
    card = next(s for s in after.scorecard if s.rule == rule)
    assert card.rejected == 1
    assert not {s.item_id for s in after.sample} & {reversed_id, *(s.item_id for s in sample)}
    page = client.get("/autonomy").text
    assert "Audit sample" in page and "2 item(s) audited so far" in page


def _exceptions(config: ReviewConfig, where: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(config.settings.warehouse), read_only=True) as con:
        return con.execute(
            "select exception_id, exception_type, disposition, coalesce(model_version, 'exception_rules') "
            f"from marts.fct_reconciliation_exceptions where not is_resolved and {where} order by exception_id"
        ).fetchall()


def test_an_auto_accepted_exception_resolved_otherwise_is_a_reversal(client: TestClient, config: ReviewConfig) -> None:
    auto = _exceptions(config, "not requires_review")
    queued = _exceptions(config, "requires_review")
    assert len(auto) >= 2 and queued, "the review world has auto-accepted and queued exceptions"
    (reversed_id, machine_type, _, rule), (kept_id, kept_type, kept_disposition, _) = auto[:2]
    other = next(t for t in ("rounding", "amount_mismatch") if t != machine_type)
    token = sign_in(client, "rita")

    def resolve(exception_id: object, exception_type: object, disposition: object) -> None:
        form = {"csrf": token, "exception_type": exception_type, "disposition": disposition, "note": "checked"}
        assert client.post(f"/exception/{exception_id}/resolve", data=form).status_code == 303

    resolve(reversed_id, other, "expected_variance" if other == "rounding" else "true_exception")  # the machine was wrong
    resolve(kept_id, kept_type, kept_disposition)  # the machine was right: a confirmation, not a reversal
    queued_id, queued_type = queued[0][:2]
    resolve(queued_id, next(t for t in ("rounding", "fee_variance") if t != queued_type), "expected_variance")

    with DecisionStore(config.store_path) as store:
        figures = measure(Warehouse(config.settings), store.in_force(), [], store.shown())
    exception_lines = [line for line in figures.per_type if line.kind == "exception"]
    assert sum(line.reversals for line in exception_lines) == 1  # queued items are not the policy's errors
    (line,) = [line for line in exception_lines if line.item_type == machine_type]
    assert line.reversals == 1 and line.touched >= 1
    (per_rule,) = [r for r in figures.per_rule if (r.kind, r.item_type, r.rule) == ("exception", machine_type, rule)]
    assert per_rule.reversals == 1


def test_wilson_intervals() -> None:
    assert wilson(0, 0) is None
    low, high = wilson(0, 10) or (1.0, 0.0)
    assert low == 0.0 and round(high, 4) == 0.2775
    low, high = wilson(5, 10) or (1.0, 0.0)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)



def test_a_policy_changed_behind_the_log_is_not_applied(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with DecisionStore(path) as store:
        store.change_policy("match", "charge_payment", "usd", min_confidence="0.99", max_amount_minor=100,
                            who="adam", role="admin")
        assert store.verify_policy().ok
    with sqlite3.connect(path) as con:
        con.execute("drop trigger policy_changes_never_updated")
        con.execute("update policy_changes set min_confidence = '0'")
    with DecisionStore(path) as store, pytest.raises(UserError, match="not intact"):
        store.policy_in_force()
