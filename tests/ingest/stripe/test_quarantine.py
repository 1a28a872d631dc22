"""Objects no raw table can hold go to `raw_stripe.quarantine`, and the load goes on.

Real Stripe never sends an object without an id or with `created` "yesterday"; a
Stripe-compatible server or a proxy might. The local API serves such objects
(`StripeAPIServer.serve_malformed`) among a generated world's, through the real `stripe`
library, into a real DuckDB file.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dlt.common.versioned_state import decompress_state

from core.settings import resolve
from demoworld.stripe_api import StripeAPIServer
from ingest.report import LoadReport
from ingest.stripe.helpers import (
    Page,
    StripeReader,
    UnfitObject,
    flatten,
    object_problem,
    page_cursor,
    read_created_range,
)
from ingest.stripe.load import load_stripe
from ingest.stripe.settings import BALANCE_TRANSACTION_COLUMNS, CHARGE_COLUMNS, RESOURCES

KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dcRECONTESTKEY"
NO_ID = "it has no id"


def _load(tmp: Path, server: StripeAPIServer, **kwargs: Any) -> LoadReport:
    settings = replace(
        resolve(env={}),
        warehouse=tmp / "recon.duckdb",
        stripe_api_base=server.url,
        stripe_api_key=KEY,
        stripe_max_rps=1_000.0,
    )
    return load_stripe(settings, pipelines_dir=tmp / "pipelines", **kwargs)


def _rows(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def _world_objects(world: Path, resource: str) -> list[dict[str, Any]]:
    with (world / "stripe" / f"{resource}.jsonl").open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _high_water(warehouse: Path) -> dict[str, int]:
    (state,) = _rows(
        warehouse, "select state from raw_stripe._dlt_pipeline_state order by version desc limit 1"
    )[0]
    return dict(decompress_state(state)["sources"]["stripe"]["high_water"])


def _quarantine(warehouse: Path) -> set[tuple[str, str | None, str, str]]:
    return set(_rows(warehouse, "select table_name, object_id, source, reason from raw_stripe.quarantine"))


@pytest.fixture
def api(small_world: Path, tmp_path: Path) -> Any:
    with StripeAPIServer(small_world, api_keys=(KEY,), index_path=tmp_path / "index.sqlite3") as server:
        yield server


def _serve_malformed(api: StripeAPIServer, world: Path) -> dict[str, Any]:
    """One malformed object of each kind, newer than the world (so re-read by a second run's
    look-back) except the refund; a paid payout's composition lists the id-less transaction."""
    now = int(time.time())
    charge = next(c for c in _world_objects(world, "charges") if c["status"] == "succeeded")
    txn = next(t for t in _world_objects(world, "balance_transactions") if t["type"] == "charge")
    oldest_refund = min(r["created"] for r in _world_objects(world, "refunds"))
    payout = next(p for p in _world_objects(world, "payouts") if p["status"] == "paid")
    with (world / "stripe" / "payout_balance_transactions.csv").open(newline="") as handle:
        settled = [r["balance_transaction_id"] for r in csv.DictReader(handle) if r["payout_id"] == payout["id"]]
    bodies = {
        "no_id": {key: value for key, value in {**charge, "created": now - 50}.items() if key != "id"},
        "yesterday": {**charge, "id": "ch_zz_yesterday", "created": "yesterday"},
        "amount": {**charge, "id": "ch_zz_amount", "created": now - 70, "amount": "12.50 EUR"},
        "list": [1, 2, 3],
        "txn": {key: value for key, value in {**txn, "created": now - 80}.items() if key != "id"},
        "event": {
            "id": "evt_zz_data", "object": "event", "api_version": "2025-02-24.acacia",
            "created": now - 90, "data": {"object": "not an object"}, "type": "charge.updated",
        },
    }
    api.serve_malformed("charges", json.dumps(bodies["no_id"]), listed_as="ch_zz_no_id", created=now - 50)
    api.serve_malformed("charges", json.dumps(bodies["yesterday"]), listed_as="ch_zz_yesterday", created=now - 60)
    api.serve_malformed("charges", json.dumps(bodies["amount"]), listed_as="ch_zz_amount", created=now - 70)
    api.serve_malformed("refunds", json.dumps(bodies["list"]), listed_as="re_zz_list", created=oldest_refund)
    api.serve_malformed("balance_transactions", json.dumps(bodies["txn"]), listed_as="txn_zz_no_id", created=now - 80)
    api.serve_malformed("events", json.dumps(bodies["event"]), listed_as="evt_zz_data", created=now - 90)
    api.upsert_payout_composition(payout["id"], [*settled, "txn_zz_no_id"])
    return {"bodies": bodies, "payout": payout, "charge": charge, "now": now}


def _expected_quarantine(payout_id: str) -> set[tuple[str, str | None, str, str]]:
    return {
        ("charges", None, "GET /v1/charges", NO_ID),
        ("charges", "ch_zz_yesterday", "GET /v1/charges",
         'its created time "yesterday" is not a whole number of seconds'),
        ("charges", "ch_zz_amount", "GET /v1/charges",
         'amount is "12.50 EUR", not a whole number that fits in 64 bits'),
        ("refunds", None, "GET /v1/refunds", "it is a JSON list, not a JSON object"),
        ("balance_transactions", None, "GET /v1/balance_transactions", NO_ID),
        ("payout_balance_transactions", None, f"GET /v1/balance_transactions?payout={payout_id}", NO_ID),
        ("events", "evt_zz_data", "GET /v1/events", "its data.object is missing or not a JSON object"),
    }


QUARANTINED_FIRST = {
    "charges": 3, "refunds": 1, "balance_transactions": 1, "payout_balance_transactions": 1, "events": 1,
    "customers": 0, "payment_intents": 0, "disputes": 0, "invoices": 0, "payouts": 0,
}


def test_malformed_objects_are_quarantined_and_every_good_one_loads(
    api: StripeAPIServer, small_world: Path, tmp_path: Path
) -> None:
    served = _serve_malformed(api, small_world)

    report = _load(tmp_path, api)

    warehouse = tmp_path / "recon.duckdb"
    for resource in RESOURCES:
        expected = {obj["id"] for obj in _world_objects(small_world, resource)}
        loaded = [row[0] for row in _rows(warehouse, f"select id from raw_stripe.{resource}")]
        assert sorted(loaded) == sorted(expected), resource
        assert report.table(resource).new_rows == len(expected), resource
    assert _quarantine(warehouse) == _expected_quarantine(served["payout"]["id"])
    raws = dict(_rows(warehouse, "select coalesce(object_id, table_name), raw from raw_stripe.quarantine "
                                 "where table_name in ('refunds', 'events') or object_id = 'ch_zz_amount'"))
    assert json.loads(raws["refunds"]) == served["bodies"]["list"]
    assert json.loads(raws["evt_zz_data"]) == served["bodies"]["event"]
    assert json.loads(raws["ch_zz_amount"]) == served["bodies"]["amount"]
    assert {t.table: t.quarantined_rows for t in report.tables if t.table != "quarantine"} == QUARANTINED_FIRST
    assert report.table("quarantine").new_rows == 7
    assert any("quarantined 7 Stripe objects" in m and "raw_stripe.quarantine" in m for m in report.messages)
    assert "quarantine" in report.render()
    # No quarantined object moved a high-water mark, though each is newer than the world.
    high_water = _high_water(warehouse)
    for resource in ("charges", "balance_transactions", "events"):
        assert high_water[resource] == max(o["created"] for o in _world_objects(small_world, resource))
    # The payout whose composition lists a bad transaction has every good pair all the same.
    pairs = _rows(warehouse, "select count(*) from raw_stripe.payout_balance_transactions "
                             f"where payout_id = '{served['payout']['id']}'")
    assert pairs[0][0] > 0


def test_a_second_run_refuses_again_only_what_it_reads_again(
    api: StripeAPIServer, small_world: Path, tmp_path: Path
) -> None:
    served = _serve_malformed(api, small_world)
    first = _load(tmp_path, api)
    warehouse = tmp_path / "recon.duckdb"
    stored = _rows(warehouse, "select quarantine_id, quarantined_at from raw_stripe.quarantine")
    # A new event whose snapshot of an old charge has no id: the snapshot is needed (the charge
    # is older than the list window) and cannot be placed.
    old_charge = {key: value for key, value in served["charge"].items() if key != "id"}
    api.upsert("events", {
        "id": "evt_zz_snapshot", "object": "event", "api_version": "2025-02-24.acacia",
        "created": served["now"] - 30, "data": {"object": {**old_charge, "refunded": True}},
        "livemode": False, "pending_webhooks": 0, "request": {"id": None, "idempotency_key": None},
        "type": "charge.refunded",
    })

    second = _load(tmp_path, api)

    # Re-read: the charges, the transaction and the event newer than the world (inside each
    # look-back window), and the composition of the payout not yet composed; not the old refund.
    assert {t.table: t.quarantined_rows for t in second.tables if t.table != "quarantine"} == {
        **QUARANTINED_FIRST, "charges": 4, "refunds": 0,
    }
    assert second.table("quarantine").new_rows == 1, "only the snapshot is new"
    assert _quarantine(warehouse) == _expected_quarantine(served["payout"]["id"]) | {
        ("charges", None, "event evt_zz_snapshot", NO_ID),
    }
    again = dict(_rows(warehouse, "select quarantine_id, quarantined_at from raw_stripe.quarantine"))
    assert all(again[key] == at for key, at in stored), "stored once, with the time it was first refused"
    assert _rows(warehouse, "select count(*) from raw_stripe.events where id = 'evt_zz_snapshot'") == [(1,)]
    assert second.table("charges").new_rows == 0 and second.table("charges").updated_rows == 0
    assert first.table("quarantine").new_rows == 7


def test_a_page_with_no_id_at_all_stops_only_its_listing(
    api: StripeAPIServer, small_world: Path, tmp_path: Path
) -> None:
    now = int(time.time())
    charge = next(c for c in _world_objects(small_world, "charges") if c["status"] == "succeeded")
    for n in range(101):  # the newest 101 charges: the first page holds 100 of them
        body = {key: value for key, value in charge.items() if key != "id"}
        api.serve_malformed(
            "charges", json.dumps({**body, "description": f"bad {n}"}), listed_as=f"ch_zz_{n:03d}", created=now - n
        )

    report = _load(tmp_path, api, resources=["charges", "refunds"])

    warehouse = tmp_path / "recon.duckdb"
    refunds = {obj["id"] for obj in _world_objects(small_world, "refunds")}
    assert {row[0] for row in _rows(warehouse, "select id from raw_stripe.refunds")} == refunds
    assert report.table("charges").quarantined_rows == 100
    assert report.table("charges").new_rows == 0
    assert any(
        m.startswith("charges: Stripe sent a page of 100 objects none of which has an id") and "next run" in m
        for m in report.messages
    ), report.messages
    assert "charges" not in _high_water(warehouse), "the next run lists the charges again"


# ------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        pytest.param({"id": "ch_1", "created": 1_700_000_000}, None, id="well-formed"),
        pytest.param({"id": "ch_1", "created": "1700000000"}, None, id="created-as-digits"),
        pytest.param({"created": 1_700_000_000}, NO_ID, id="no-id"),
        pytest.param({"id": None, "created": 1_700_000_000}, NO_ID, id="null-id"),
        pytest.param({"id": "", "created": 1_700_000_000}, NO_ID, id="empty-id"),
        pytest.param({"id": "ch_1"}, "it has no created time", id="no-created"),
        pytest.param(
            {"id": "ch_1", "created": "yesterday"},
            'its created time "yesterday" is not a whole number of seconds',
            id="created-yesterday",
        ),
        pytest.param(
            {"id": "ch_1", "created": 2**70},
            f"its created time {2**70} is not a whole number of seconds",
            id="created-beyond-64-bits",
        ),
        pytest.param(["ch_1"], "it is a JSON list, not a JSON object", id="a-list"),
        pytest.param("ch_1", "it is a JSON string, not a JSON object", id="a-string"),
        pytest.param(None, "it is JSON null, not a JSON object", id="null"),
    ],
)
def test_object_problem(obj: Any, problem: str | None) -> None:
    assert object_problem(obj, ["id"], created_required=True) == problem


@pytest.mark.parametrize(
    ("columns", "field", "value", "message"),
    [
        pytest.param(CHARGE_COLUMNS, "amount", "12.50 EUR", 'amount is "12.50 EUR"', id="bigint-text"),
        pytest.param(CHARGE_COLUMNS, "amount", 2**64, f"amount is {2**64}", id="bigint-beyond-64-bits"),
        pytest.param(BALANCE_TRANSACTION_COLUMNS, "exchange_rate", "x", 'exchange_rate is "x"', id="decimal-text"),
        pytest.param(
            BALANCE_TRANSACTION_COLUMNS, "exchange_rate", "0.1234567890123", "exchange_rate is",
            id="decimal-too-precise",
        ),
    ],
)
def test_flatten_names_the_field_it_cannot_store(
    columns: dict[str, Any], field: str, value: Any, message: str
) -> None:
    with pytest.raises(UnfitObject, match=message):
        flatten({"id": "x_1", "created": 1, field: value}, columns)


def test_flatten_still_stores_what_it_stored() -> None:
    row = flatten({"id": "txn_1", "created": "17", "exchange_rate": 1.0823, "fee": 30}, BALANCE_TRANSACTION_COLUMNS)
    assert (row["created"], row["exchange_rate"], row["fee"]) == (17, Decimal("1.0823"), 30)


@pytest.mark.parametrize(
    ("objects", "cursor"),
    [
        pytest.param([{"id": "a", "created": 30}, {"id": "b", "created": 20}], ("b", 20), id="the-last-object"),
        pytest.param([{"id": "a", "created": 30}, {"created": 20}], ("a", 30), id="last-has-no-id"),
        pytest.param([{"id": "a", "created": 30}, {"id": "b", "created": "?"}], ("b", 30), id="last-created-unusable"),
        pytest.param([{"id": "a"}, [1], {"created": 5}], ("a", None), id="no-created-before-the-cursor"),
        pytest.param([{"created": 30}, [1], None], None, id="no-id-at-all"),
    ],
)
def test_page_cursor(objects: list[Any], cursor: tuple[str, int | None] | None) -> None:
    assert page_cursor(objects) == cursor


class ListedReader(StripeReader):
    """Serves (listed id, listed created, body) triples with Stripe's list semantics; no HTTP."""

    def __init__(self, listed: list[tuple[str, int, Any]], workers: int) -> None:
        super().__init__(api_key="sk_test_fake_key_0000", workers=workers, max_rps=1e9)
        self.listed = sorted(listed, key=lambda item: (item[1], item[0]), reverse=True)

    def list_page(self, resource: str, path: str, params: Any) -> Page:
        self.requests[resource] += 1
        created = params["created"]
        rows = [item for item in self.listed if created["gte"] <= item[1] <= created["lte"]]
        if "starting_after" in params:
            cursor = next(item for item in self.listed if item[0] == params["starting_after"])
            rows = [item for item in rows if (item[1], item[0]) < (cursor[1], cursor[0])]
        page = rows[: params["limit"]]
        return Page(resource, [item[2] for item in page], has_more=len(rows) > len(page), fetched_at_ms=0)


@pytest.mark.parametrize("workers", [1, 8], ids=lambda w: f"{w}-workers")
def test_a_listing_goes_on_past_objects_without_an_id(workers: int) -> None:
    listed: list[tuple[str, int, Any]] = [(f"ch_{n:05d}", 1_735_689_600 + n * 60, None) for n in range(1_000)]
    listed = [
        (object_id, created, {"id": object_id, "created": created} if n % 100 != 0 else {"created": "?"})
        for n, (object_id, created, _) in enumerate(listed)
    ]
    reader = ListedReader(listed, workers)
    pages = list(read_created_range(reader, "charges", "/v1/charges", 0, 2_000_000_000))
    read = [obj for page in pages for obj in page.objects]
    assert {obj["id"] for obj in read if "id" in obj} == {f"ch_{n:05d}" for n in range(1_000) if n % 100}
    assert sum(1 for obj in read if "id" not in obj) >= 10, "every id-less object is read, some twice"
    assert not any(page.cut_short for page in pages)


def test_a_page_without_any_id_is_cut_short() -> None:
    listed = [(f"ch_{n:05d}", 1_735_689_600 + n, {"created": 1_735_689_600 + n}) for n in range(150)]
    pages = list(read_created_range(ListedReader(listed, 4), "charges", "/v1/charges", 0, 2_000_000_000))
    assert [(len(page.objects), page.cut_short) for page in pages] == [(100, True)]
