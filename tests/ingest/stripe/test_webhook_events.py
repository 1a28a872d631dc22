"""Webhook events into raw_stripe (ingest.stripe.webhooks): newest state wins, whatever the order."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.settings import resolve
from ingest.stripe import webhooks
from ingest.stripe.webhooks import ApplyReport, apply_events, state_rank


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


def _second_batch() -> list[dict[str, Any]]:
    """New objects, a newer and an older state of stored ones, a bad object, a balance, an unknown."""
    return [
        _event("evt_10", 1_750_001_000, "charge.refunded", _charge(amount_refunded=5000, refunded=True)),
        _event("evt_11", 1_750_000_050, "charge.updated", _charge(description="older than stored")),
        _event("evt_12", 1_750_001_000, "charge.succeeded", _charge(id="ch_web2", amount=999, currency="jpy")),
        _event("evt_13", 1_750_001_001, "charge.succeeded", _charge(id="ch_bad2", amount="7 KWD")),
        _event("evt_14", 1_750_001_002, "payout.paid", {"id": "po_9", "object": "payout", "created": 3, "status": "paid", "amount": 1234}),
        _event("evt_15", 1_750_001_003, "balance.available", {"object": "balance", "available": [], "pending": [], "livemode": False}),
        _event("evt_16", 1_750_001_004, "product.created", {"id": "prod_2", "object": "product"}),
    ]


def _first_batch() -> list[dict[str, Any]]:
    """Makes every table the second batch writes to, with dlt."""
    return [
        _event("evt_1", 1_750_000_100, "charge.succeeded", _charge()),
        _event("evt_2", 1_750_000_100, "charge.succeeded", _charge(id="ch_bad1", amount="12.50 EUR")),
        _event("evt_3", 1_750_000_100, "payout.created", {"id": "po_1", "object": "payout", "created": 1, "status": "pending", "amount": 10}),
        _event("evt_4", 1_750_000_100, "balance.available", {"object": "balance", "available": [{"amount": 1, "currency": "usd"}], "pending": [], "livemode": False}),
    ]


def _raw_tables(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            str(row[0])
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'raw_stripe' "
                "and table_name not like '\\_dlt\\_%' escape '\\' order by 1"
            ).fetchall()
        ]
        return {
            table: sorted(
                connection.execute(f"select * exclude (quarantined_at) from raw_stripe.{table}").fetchall()
                if table == "quarantine"
                else connection.execute(f"select * from raw_stripe.{table}").fetchall(),
                key=repr,
            )
            for table in tables
        }
    finally:
        connection.close()


def test_rows_written_through_the_held_connection_equal_dlt_s_merge(tmp_path: Path) -> None:
    """The micro-batcher's path (its DuckDB connection) and dlt's load leave the same raw tables
    and report the same counts; the connection's path leaves no load of dlt's behind."""
    warehouses = {}
    reports = {}
    for path in ("dlt", "connection"):
        settings = resolve(warehouse=str(tmp_path / path / "w.duckdb"), target="duckdb", env={})
        apply_events(settings, _first_batch())
        connection = duckdb.connect(str(settings.warehouse))
        try:
            loads_before = connection.execute("select count(*) from raw_stripe._dlt_loads").fetchall()
            reports[path] = apply_events(
                settings, _second_batch(), connection=connection if path == "connection" else None
            )
            loads_after = connection.execute("select count(*) from raw_stripe._dlt_loads").fetchall()
        finally:
            connection.close()
        assert (loads_after != loads_before) == (path == "dlt")
        warehouses[path] = _raw_tables(settings.warehouse)

    assert warehouses["connection"] == warehouses["dlt"]
    assert warehouses["connection"]["charges"]  # compared something
    assert {"quarantine", "balance_snapshots", "payouts", "events"} <= warehouses["connection"].keys()
    first, second = (reports[path] for path in ("dlt", "connection"))
    assert (second.applied, second.stale, second.unknown, second.quarantined) == (
        first.applied, first.stale, first.unknown, first.quarantined,
    )
    assert second.stale == 1 and second.quarantined == 1 and second.unknown == 1
    assert second.by_dlt == "" and "dlt" not in second.render()


@pytest.mark.parametrize("before", ["nothing", "charges only"])
def test_dlt_writes_the_rows_of_a_table_it_has_not_made_yet(
    tmp_path: Path, before: str
) -> None:
    settings = resolve(warehouse=str(tmp_path / "w.duckdb"), target="duckdb", env={})
    if before == "charges only":
        apply_events(settings, _first_batch()[:1])
    connection = duckdb.connect(str(settings.warehouse))
    try:
        report = apply_events(settings, _second_batch(), connection=connection)
        snapshots = connection.execute("select count(*) from raw_stripe.balance_snapshots").fetchall()
        loads = connection.execute("select count(*) from raw_stripe._dlt_loads").fetchall()
    finally:
        connection.close()

    assert report.by_dlt.startswith("raw_stripe.") and report.by_dlt.endswith(" is not in the warehouse yet")
    assert "; written by dlt: raw_stripe." in report.render()
    assert report.applied["charges"] == 2 and snapshots == [(1,)]
    assert loads == [(1 if before == "nothing" else 2,)]


def test_a_write_the_warehouse_refuses_is_rolled_back_whole_and_handed_to_dlt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A unique index on the events' type makes the batch's last table refuse its rows after the
    charges went in: nothing of the batch stays, the warning says why, and dlt gets the batch."""
    settings = resolve(warehouse=str(tmp_path / "w.duckdb"), target="duckdb", env={})
    first = _first_batch()
    apply_events(settings, [first[0], first[2]])  # a charge and a payout: two event types
    handed: list[int] = []
    monkeypatch.setattr(webhooks, "_load_with_dlt", lambda _s, events, _p: handed.append(len(events)) or ApplyReport())
    connection = duckdb.connect(str(settings.warehouse))
    try:
        connection.execute("create unique index one_event_per_type on raw_stripe.events (type)")
        charges = connection.execute("select id, amount_refunded from raw_stripe.charges order by id").fetchall()
        with caplog.at_level("WARNING", logger="ingest.stripe.webhooks"):
            report = apply_events(settings, _second_batch()[:3], connection=connection)
        after = connection.execute("select id, amount_refunded from raw_stripe.charges order by id").fetchall()
        events = connection.execute("select count(*) from raw_stripe.events").fetchall()
    finally:
        connection.close()

    assert handed == [3] and report.by_dlt == "the write through the warehouse's connection failed"
    assert "could not be written in the warehouse's connection" in caplog.text
    assert after == charges == [("ch_web1", 0)] and events == [(2,)]
