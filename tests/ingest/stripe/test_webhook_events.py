"""Webhook events into raw_stripe (ingest.stripe.webhooks): newest state wins, whatever the order."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.settings import resolve
from ingest.stripe.webhooks import apply_events, state_rank


def _event(event_id: str, created: int, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "created": created, "type": event_type, "data": {"object": obj}}


CHARGE = {
    "id": "ch_web1", "object": "charge", "created": 1_750_000_000, "amount": 5000, "currency": "usd",
    "status": "succeeded", "amount_refunded": 0, "refunded": False, "disputed": False,
}


def _charge(**changes: Any) -> dict[str, Any]:
    charge = copy.deepcopy(CHARGE)
    charge.update(changes)
    return charge


def _rows(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [tuple(row) for row in connection.execute(sql).fetchall()]
    finally:
        connection.close()


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest-first", "oldest-first"])
@pytest.mark.parametrize("one_batch", [True, False], ids=["one-batch", "two-batches"])
def test_the_newest_state_wins_in_any_order_even_within_one_second(
    tmp_path: Path, newest_first: bool, one_batch: bool
) -> None:
    settings = resolve(warehouse=str(tmp_path / "w.duckdb"), target="duckdb", env={})
    succeeded = _event("evt_1", 1_750_000_100, "charge.succeeded", _charge())
    refunded = _event("evt_2", 1_750_000_100, "charge.refunded", _charge(amount_refunded=5000, refunded=True))
    order = [refunded, succeeded] if newest_first else [succeeded, refunded]

    if one_batch:
        apply_events(settings, order)
    else:
        for event in order:
            apply_events(settings, [event])

    assert _rows(settings.warehouse, "select amount_refunded, refunded from raw_stripe.charges") == [(5000, True)]
    assert _rows(settings.warehouse, "select count(*) from raw_stripe.events") == [(2,)]


def test_an_event_older_than_a_list_read_changes_nothing_and_a_redelivery_neither(tmp_path: Path) -> None:
    settings = resolve(warehouse=str(tmp_path / "w.duckdb"), target="duckdb", env={})
    paid = _event("evt_p", 1_750_000_200, "payout.paid", {"id": "po_1", "object": "payout", "created": 1, "status": "paid", "amount": 10})
    first = apply_events(settings, [paid])
    again = apply_events(settings, [paid])
    older = apply_events(
        settings,
        [_event("evt_o", 1_750_000_100, "payout.created", {"id": "po_1", "object": "payout", "created": 1, "status": "pending", "amount": 10})],
    )

    assert first.applied["payouts"] == 1 and first.stale == 0
    assert again.tables == set() and again.stale == 1
    assert older.tables == set() and older.stale == 1
    assert _rows(settings.warehouse, "select status from raw_stripe.payouts") == [("paid",)]


def test_a_balance_lands_as_a_snapshot_and_an_unknown_object_is_counted(tmp_path: Path) -> None:
    settings = resolve(warehouse=str(tmp_path / "w.duckdb"), target="duckdb", env={})
    balance = {"object": "balance", "available": [{"amount": 700, "currency": "usd"}], "pending": [], "livemode": False}
    report = apply_events(
        settings,
        [
            _event("evt_b", 1_750_000_300, "balance.available", balance),
            _event("evt_x", 1_750_000_300, "product.created", {"id": "prod_1", "object": "product"}),
        ],
    )

    assert report.unknown == 1
    assert _rows(settings.warehouse, "select event_id, created from raw_stripe.balance_snapshots") == [
        ("evt_b", 1_750_000_300)
    ]
    assert _rows(settings.warehouse, "select count(*) from raw_stripe.events") == [(2,)]


def test_state_rank_orders_a_lifecycle() -> None:
    assert state_rank("payouts", {"status": "in_transit"}) < state_rank("payouts", {"status": "paid"})
    assert state_rank("charges", _charge()) < state_rank("charges", _charge(amount_refunded=1))
    assert state_rank("disputes", {"status": "needs_response"}) < state_rank("disputes", {"status": "lost"})


def test_an_object_its_table_cannot_hold_is_quarantined_and_the_rest_of_the_batch_lands(tmp_path: Path) -> None:
    settings = resolve(warehouse=str(tmp_path / "w.duckdb"), target="duckdb", env={})
    bad = _event("evt_bad", 1_750_000_400, "charge.succeeded", _charge(id="ch_bad", amount="12.50 EUR"))
    good = _event("evt_good", 1_750_000_400, "charge.succeeded", _charge(id="ch_good"))

    report = apply_events(settings, [bad, good])

    assert report.quarantined == 1
    assert "quarantine" in report.tables
    assert _rows(settings.warehouse, "select id from raw_stripe.charges") == [("ch_good",)]
    quarantined = _rows(settings.warehouse, "select table_name, object_id, source, reason from raw_stripe.quarantine")
    assert [row[:3] for row in quarantined] == [("charges", "ch_bad", "webhook event evt_bad")]
    assert "amount" in quarantined[0][3]
    assert _rows(settings.warehouse, "select count(*) from raw_stripe.events") == [(2,)]
