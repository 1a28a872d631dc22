"""The local Stripe-compatible API against the real `stripe` library over real HTTP."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import stripe

from core.errors import UserError
from demoworld.reader import payout_composition, read_stripe_objects
from demoworld.stripe_api import (
    DEFAULT_API_KEY,
    RESOURCES,
    StripeAPIServer,
    main,
    mask_key,
)
from demoworld.world import WorldSpec, generate_world

API_VERSION = "2025-02-24.acacia"


def make_client(url: str, *, key: str = DEFAULT_API_KEY, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": url},
        stripe_version=API_VERSION,
        max_network_retries=retries,
    )


def newest_first(objs: list[dict[str, Any]]) -> list[str]:
    return [o["id"] for o in sorted(objs, key=lambda o: (o["created"], o["id"]), reverse=True)]


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers


def bearer(key: str = DEFAULT_API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def client(stripe_api: StripeAPIServer) -> stripe.StripeClient:
    return make_client(stripe_api.url)


@pytest.fixture(scope="module")
def charges_order(api_world: Path) -> list[str]:
    return newest_first(read_stripe_objects(api_world, "charges"))


def all_charges(client: stripe.StripeClient, **params: Any) -> list[str]:
    return all_ids(client, "charges", **params)


def all_ids(client: stripe.StripeClient, resource: str, **params: Any) -> list[str]:
    service = getattr(client.v1, resource)
    return [o.id for o in service.list(params={"limit": 100, **params}).auto_paging_iter()]


def pages(objects: list[str], limit: int = 100) -> int:
    return -(-len(objects) // limit)


# ------------------------------------------------------------------ paging and filters


def test_auto_paging_returns_every_charge_once_newest_first(
    client: stripe.StripeClient, charges_order: list[str], stripe_api: StripeAPIServer
) -> None:
    assert len(charges_order) > 1500
    stripe_api.reset_stats()
    ids = all_charges(client)
    assert ids == charges_order  # each exactly once, in (created, id) descending order
    stats = stripe_api.stats
    assert stats.by_path == {"/v1/charges": pages(charges_order)}
    assert stats.stripe_versions == {API_VERSION: pages(charges_order)}
    assert stats.objects_served == len(charges_order)


@pytest.mark.parametrize("resource", list(RESOURCES), ids=list(RESOURCES))
def test_every_resource_lists_like_its_world_file(
    client: stripe.StripeClient, api_world: Path, resource: str
) -> None:
    service = getattr(client.v1, resource)
    got = [o.id for o in service.list(params={"limit": 100}).auto_paging_iter()]
    assert got == newest_first(read_stripe_objects(api_world, resource))


@pytest.mark.parametrize("resource", list(RESOURCES), ids=list(RESOURCES))
def test_retrieve_returns_the_world_object(
    client: stripe.StripeClient, api_world: Path, resource: str
) -> None:
    objs = read_stripe_objects(api_world, resource)
    want = objs[len(objs) // 2]
    got = getattr(client.v1, resource).retrieve(want["id"])
    assert got.to_dict(recursive=True) == want


@pytest.mark.parametrize(
    ("resource", "object_id", "message"),
    [
        ("charges", "ch_nope", "No such charge: 'ch_nope'"),
        ("payouts", "po_nope", "No such payout: 'po_nope'"),
        ("balance_transactions", "txn_nope", "No such balance_transaction: 'txn_nope'"),
    ],
    ids=["charge", "payout", "balance_transaction"],
)
def test_unknown_id_is_resource_missing(
    client: stripe.StripeClient, resource: str, object_id: str, message: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        getattr(client.v1, resource).retrieve(object_id)
    err = caught.value
    assert err.http_status == 404
    assert err.code == "resource_missing"
    assert err.param == "id"
    assert err.user_message == message
    assert err.json_body is not None
    assert set(err.json_body["error"]) == {
        "code",
        "doc_url",
        "message",
        "param",
        "request_log_url",
        "type",
    }


@pytest.mark.parametrize(
    ("operator", "keep"),
    [
        ("gt", lambda created, pivot: created > pivot),
        ("gte", lambda created, pivot: created >= pivot),
        ("lt", lambda created, pivot: created < pivot),
        ("lte", lambda created, pivot: created <= pivot),
        ("exact", lambda created, pivot: created == pivot),
    ],
    ids=["gt", "gte", "lt", "lte", "exact"],
)
def test_created_filters(
    client: stripe.StripeClient, api_world: Path, operator: str, keep: Any
) -> None:
    # events: a sale's charge.succeeded, payment_intent.succeeded (and invoice.paid) share
    # their second, so the id tiebreak of Stripe's list order is exercised at the bound
    events = read_stripe_objects(api_world, "events")
    seconds = Counter(e["created"] for e in events)
    pivot = next(e["created"] for e in events[len(events) // 2 :] if seconds[e["created"]] >= 3)
    want = newest_first([e for e in events if keep(e["created"], pivot)])
    created: Any = pivot if operator == "exact" else {operator: pivot}
    assert all_ids(client, "events", created=created) == want
    assert len(want) >= (3 if operator in ("exact", "gte", "lte") else 1)


def test_created_range_combines_bounds(client: stripe.StripeClient, api_world: Path) -> None:
    charges = read_stripe_objects(api_world, "charges")
    low, high = charges[100]["created"], charges[900]["created"]
    want = newest_first([c for c in charges if low <= c["created"] < high])
    assert all_charges(client, created={"gte": low, "lt": high}) == want


@pytest.mark.parametrize("position", [3, 5, 6, 500, 1499], ids=lambda p: f"cursor_at_{p}")
def test_ending_before_returns_the_objects_just_newer(
    client: stripe.StripeClient, charges_order: list[str], position: int
) -> None:
    page = client.v1.charges.list(params={"limit": 5, "ending_before": charges_order[position]})
    assert [c.id for c in page.data] == charges_order[max(0, position - 5) : position]
    assert page.has_more is (position > 5)


def test_ending_before_auto_paging_walks_back_to_the_newest(
    client: stripe.StripeClient, charges_order: list[str]
) -> None:
    position = 257
    pages = client.v1.charges.list(params={"limit": 100, "ending_before": charges_order[position]})
    # the library walks backwards: nearest to the cursor first
    assert [c.id for c in pages.auto_paging_iter()] == charges_order[:position][::-1]


@pytest.mark.parametrize("limit", [1, 7, 100], ids=lambda n: f"limit_{n}")
def test_starting_after_then_ending_before_round_trips(
    client: stripe.StripeClient, charges_order: list[str], limit: int
) -> None:
    first = client.v1.charges.list(params={"limit": limit, "starting_after": charges_order[40]})
    assert [c.id for c in first.data] == charges_order[41 : 41 + limit]
    second = client.v1.charges.list(params={"limit": limit, "starting_after": first.data[-1].id})
    back = client.v1.charges.list(params={"limit": limit, "ending_before": second.data[0].id})
    assert [c.id for c in back.data] == [c.id for c in first.data]
    assert back.has_more is True


def test_default_limit_is_ten(client: stripe.StripeClient, charges_order: list[str]) -> None:
    page = client.v1.charges.list()
    assert [c.id for c in page.data] == charges_order[:10]
    assert page.has_more is True
    assert page.url == "/v1/charges"


def test_last_page_has_no_more(client: stripe.StripeClient, charges_order: list[str]) -> None:
    page = client.v1.charges.list(params={"limit": 100, "starting_after": charges_order[-3]})
    assert [c.id for c in page.data] == charges_order[-2:]
    assert page.has_more is False


@pytest.mark.parametrize(
    ("params", "status", "param"),
    [
        ({"limit": 0}, 400, "limit"),
        ({"limit": 101}, 400, "limit"),
        ({"limit": "ten"}, 400, "limit"),
        ({"expand": ["data.customer"]}, 400, "expand[0]"),
        ({"customer_details": "x"}, 400, "customer_details"),
        ({"created": {"gte": "soon"}}, 400, "created[gte]"),
        ({"starting_after": "ch_nope"}, 404, "starting_after"),
        ({"ending_before": "ch_nope"}, 404, "ending_before"),
    ],
    ids=[
        "limit_zero",
        "limit_over_100",
        "limit_not_int",
        "expand",
        "unknown_param",
        "created_not_int",
        "unknown_starting_after",
        "unknown_ending_before",
    ],
)
def test_bad_list_parameters_are_rejected(
    client: stripe.StripeClient, params: dict[str, Any], status: int, param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.charges.list(params=params)  # type: ignore[arg-type]
    assert caught.value.http_status == status
    assert caught.value.param == param


# ------------------------------------------------------------------ payouts and types


@pytest.mark.parametrize("which", [0, 1, -1], ids=["first_payout", "second_payout", "last_payout"])
def test_payout_filter_lists_the_composition(
    client: stripe.StripeClient, api_world: Path, which: int
) -> None:
    payout = read_stripe_objects(api_world, "payouts")[which]
    txns = list(
        client.v1.balance_transactions.list(
            params={"payout": payout["id"], "limit": 100}
        ).auto_paging_iter()
    )
    ids = [t.id for t in txns]
    assert len(ids) == len(set(ids))
    assert set(ids) == payout_composition(api_world)[payout["id"]]
    assert payout["balance_transaction"] in ids  # the payout's own transaction
    others = [t for t in txns if t.type != "payout"]
    assert sum(t.net for t in others) == payout["amount"]
    assert all(t.amount - t.fee == t.net for t in txns)
    by_order = sorted(txns, key=lambda t: (t.created, t.id), reverse=True)
    assert [t.id for t in by_order] == ids


def test_payout_filter_pages_with_cursors(
    client: stripe.StripeClient, api_world: Path
) -> None:
    settled = payout_composition(api_world)
    payout = max(read_stripe_objects(api_world, "payouts"), key=lambda p: len(settled[p["id"]]))
    want = settled[payout["id"]]
    assert len(want) > 3
    got = [
        t.id
        for t in client.v1.balance_transactions.list(
            params={"payout": payout["id"], "limit": 2}
        ).auto_paging_iter()
    ]
    assert len(got) == len(want)
    assert set(got) == want


def test_payout_filter_unknown_payout(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.balance_transactions.list(params={"payout": "po_nope"})
    assert caught.value.http_status == 404
    assert caught.value.param == "payout"


@pytest.mark.parametrize(
    ("resource", "kind"),
    [
        ("balance_transactions", "payout"),
        ("balance_transactions", "refund"),
        ("events", "payout.paid"),
        ("events", "charge.*"),
    ],
    ids=["txn_payout", "txn_refund", "event_payout_paid", "event_charge_wildcard"],
)
def test_type_filter(
    client: stripe.StripeClient, api_world: Path, resource: str, kind: str
) -> None:
    objs = read_stripe_objects(api_world, resource)
    prefix = kind.removesuffix("*")
    want = newest_first(
        [
            o
            for o in objs
            if (o["type"].startswith(prefix) if kind.endswith("*") else o["type"] == kind)
        ]
    )
    service = getattr(client.v1, resource)
    got = [o.id for o in service.list(params={"type": kind, "limit": 100}).auto_paging_iter()]
    assert got == want
    assert want


# ------------------------------------------------------------------ raw_request


def test_raw_request_pages_every_charge(
    client: stripe.StripeClient, charges_order: list[str]
) -> None:
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = client.raw_request("get", "/v1/charges", **params)
        page = json.loads(response.body)
        ids.extend(o["id"] for o in page["data"])
        if not page["has_more"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    assert ids == charges_order
    typed = client.deserialize(response, api_mode="V1")
    assert typed.object == "list"


def test_raw_request_with_filters(client: stripe.StripeClient, api_world: Path) -> None:
    payout = read_stripe_objects(api_world, "payouts")[2]
    response = client.raw_request(
        "get", "/v1/balance_transactions", payout=payout["id"], limit=100, created={"gte": 0}
    )
    body = json.loads(response.body)
    assert body["url"] == "/v1/balance_transactions"
    assert {t["id"] for t in body["data"]} == payout_composition(api_world)[payout["id"]]


# ------------------------------------------------------------------ auth


def test_wrong_key_is_an_authentication_error_and_never_logged(
    stripe_api: StripeAPIServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk_test_this_is_a_wrong_secret_key_9876"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(stripe.AuthenticationError) as caught:
        make_client(stripe_api.url, key=wrong).v1.charges.list()
    assert caught.value.http_status == 401
    assert caught.value.user_message == "Invalid API Key provided: sk_test_****9876"
    assert any(r.name == "demoworld.stripe_api" for r in caplog.records)
    assert wrong not in caplog.text
    assert "wrong_secret" not in caplog.text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer sk_test_other"}, 401),
        ({"Authorization": "Basic " + base64.b64encode(b"sk_test_other:").decode()}, 401),
        (
            {"Authorization": "Basic " + base64.b64encode(f"{DEFAULT_API_KEY}:".encode()).decode()},
            200,
        ),
        ({"Authorization": f"Bearer {DEFAULT_API_KEY}"}, 200),
    ],
    ids=["missing", "wrong_bearer", "wrong_basic", "basic", "bearer"],
)
def test_auth_schemes(stripe_api: StripeAPIServer, headers: dict[str, str], status: int) -> None:
    got, body, response_headers = http_get(f"{stripe_api.url}/v1/payouts?limit=1", headers)
    assert got == status
    if status == 401:
        assert body["error"]["type"] == "invalid_request_error"
        assert response_headers["WWW-Authenticate"]
    else:
        assert body["object"] == "list"


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("sk_test_abcdefgh1234", "sk_test_****1234"),
        ("rk_live_zzzzzz9999", "rk_live_****9999"),
        ("plainkey5678", "****5678"),
        ("abc", "***"),
    ],
    ids=["secret_test", "restricted_live", "no_prefix", "short"],
)
def test_mask_key(key: str, masked: str) -> None:
    assert mask_key(key) == masked


# ------------------------------------------------------------------ faults


def test_429_storm_is_survived_by_the_library_retries(api_world: Path) -> None:
    # 2 a second against 3 clients starting together: a storm however slow the machine (at 8 a
    # second, a loaded machine's clients never reached the limit and no 429 came). Each client pages
    # through the payouts (pages of 100), so a 429 can land mid-listing; the charges' 20 pages a
    # client made the test wait 30 s on the limit for nothing more.
    with StripeAPIServer(api_world, rate_limit=2) as server:
        client = make_client(server.url, retries=30)
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: all_ids(client, "payouts"), range(3)))
        want = newest_first(read_stripe_objects(api_world, "payouts"))
        assert pages(want) >= 2, "too few payouts for a listing of several pages"
        assert all(r == want for r in results)
        stats = server.stats
    assert stats.by_status[429] > 0
    assert stats.rate_limited == stats.by_status[429]
    assert stats.by_status[200] == 3 * pages(want)


def test_429_without_should_retry_header_is_not_retried(api_world: Path) -> None:
    with StripeAPIServer(api_world, rate_limit=1, should_retry_header=False) as server:
        client = make_client(server.url, retries=5)
        client.v1.payouts.list()
        with pytest.raises(stripe.RateLimitError) as caught:
            client.v1.payouts.list()
        assert caught.value.json_body is not None
        assert caught.value.json_body["error"]["code"] == "rate_limit"
        assert server.stats.by_status == {200: 1, 429: 1}


def test_fail_rate_500s_are_retried(api_world: Path) -> None:
    with StripeAPIServer(api_world, fail_rate=0.25, fail_seed=3) as server:
        client = make_client(server.url, retries=10)
        want = newest_first(read_stripe_objects(api_world, "charges"))
        assert all_charges(client) == want
        stats = server.stats
    assert stats.injected_failures > 0
    assert stats.by_status[500] == stats.injected_failures
    assert stats.by_status[200] == pages(want)


def test_fail_rate_is_deterministic_per_seed(api_world: Path) -> None:
    def statuses(seed: int) -> list[int]:
        with StripeAPIServer(api_world, fail_rate=0.5, fail_seed=seed) as server:
            return [http_get(f"{server.url}/v1/customers?limit=1", bearer())[0] for _ in range(30)]

    first = statuses(1)
    assert first == statuses(1)
    assert first != statuses(2)
    assert 0 < first.count(500) < 30


# ------------------------------------------------------------------ stats, mutation, index


def test_stats_endpoint(stripe_api: StripeAPIServer, client: stripe.StripeClient) -> None:
    stripe_api.reset_stats()
    client.v1.charges.list(params={"limit": 3})
    charge_id = client.v1.charges.list(params={"limit": 1}).data[0].id
    client.v1.charges.retrieve(charge_id)
    status, body, _ = http_get(f"{stripe_api.url}/_stats")
    assert status == 200
    assert body["total"] == 3
    assert body["by_path"] == {"/v1/charges": 2, "/v1/charges/{id}": 1}
    assert body["by_status"] == {"200": 3}
    assert body["stripe_versions"] == {API_VERSION: 3}
    assert body["objects_served"] == 5
    assert stripe_api.stats.total == 4  # the /_stats request itself is counted afterwards


def test_upsert_new_and_changed_objects(small_world: Path) -> None:
    with StripeAPIServer(small_world) as server:
        client = make_client(server.url)
        newest = client.v1.charges.list(params={"limit": 1}).data[0]
        fresh = newest.to_dict(recursive=True) | {"id": "ch_fresh", "created": newest.created + 10}
        server.upsert("charges", fresh)
        assert client.v1.charges.list(params={"limit": 1}).data[0].id == "ch_fresh"

        changed = newest.to_dict(recursive=True) | {
            "refunded": True,
            "amount_refunded": newest.amount,
        }
        server.upsert("charges", changed)
        assert client.v1.charges.retrieve(newest.id).refunded is True
        count = len(read_stripe_objects(small_world, "charges")) + 1
        assert len(all_charges(client)) == count

        payout = read_stripe_objects(small_world, "payouts")[0]
        server.upsert_payout_composition(payout["id"], [payout["balance_transaction"]])
        ids = [
            t.id for t in client.v1.balance_transactions.list(params={"payout": payout["id"]}).data
        ]
        assert ids == [payout["balance_transaction"]]

        with pytest.raises(UserError):
            server.upsert("coupons", {"id": "x", "created": 1})
        with pytest.raises(UserError):
            server.upsert("charges", {"id": "ch_no_created"})


def test_admin_upsert_over_http(small_world: Path) -> None:
    with StripeAPIServer(small_world) as server:
        body = json.dumps(
            [
                {"id": "cus_new1", "object": "customer", "created": 2_000_000_000},
                {"id": "cus_new2", "object": "customer", "created": 2_000_000_001},
            ]
        ).encode()
        request = urllib.request.Request(
            f"{server.url}/_admin/upsert/customers",
            data=body,
            headers={**bearer(), "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read()) == {"upserted": 2}
        client = make_client(server.url)
        assert [c.id for c in client.v1.customers.list(params={"limit": 2}).data] == [
            "cus_new2",
            "cus_new1",
        ]
        unauthorised = urllib.request.Request(
            f"{server.url}/_admin/upsert/customers", data=body, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(unauthorised, timeout=10)
        assert caught.value.code == 401


def test_index_is_reused_and_rebuilt_when_the_world_changes(tmp_path: Path) -> None:
    world = tmp_path / "w"
    generate_world(WorldSpec(seed=5, scale=30, months=1), world)
    with StripeAPIServer(world) as first:
        assert first.index_build_seconds is not None
    with StripeAPIServer(world) as second:
        assert second.index_build_seconds is None
    generate_world(WorldSpec(seed=6, scale=40, months=1), world)
    stamp = time.time() + 5
    os.utime(world / "stripe" / "charges.jsonl", (stamp, stamp))
    with StripeAPIServer(world) as third:
        assert third.index_build_seconds is not None
        got = all_charges(make_client(third.url))
    assert got == newest_first(read_stripe_objects(world, "charges"))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"], ids=["any", "lan", "any_v6"])
def test_only_loopback_is_served(small_world: Path, host: str) -> None:
    with pytest.raises(UserError):
        StripeAPIServer(small_world, host=host)


def test_unrecognized_urls_and_methods(stripe_api: StripeAPIServer) -> None:
    assert http_get(f"{stripe_api.url}/v1/coupons", bearer())[0] == 404
    assert http_get(f"{stripe_api.url}/v1/charges/ch_x/refunds", bearer())[0] == 404
    request = urllib.request.Request(
        f"{stripe_api.url}/v1/charges", data=b"amount=1", headers=bearer(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 405


def test_command_line_refuses_a_world_without_stripe_folder(tmp_path: Path) -> None:
    assert main(["--world", str(tmp_path / "nowhere"), "--port", "0"]) == 2
