"""The Stripe reader's pure parts: the rate cap, the on-the-fly slicing, the row shape."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from core.errors import SourceUnavailableError
from core.settings import DEFAULT_STRIPE_TIMEOUT_S
from ingest.stripe.helpers import (
    Page,
    RateLimiter,
    StripeReader,
    default_max_rps,
    flatten,
    mask_key,
    read_created_range,
)
from ingest.stripe.settings import CHARGE_COLUMNS, CONNECT_TIMEOUT_S, RETRY_BUDGET_S


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_never_exceeds_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("ingest.stripe.helpers.time.sleep", lambda seconds: setattr(clock, "now", clock.now + seconds))
    limiter = RateLimiter(10.0, clock=clock)
    for _ in range(100):
        limiter.acquire()
    # One at once, then one every 0.1 s: 100 requests take 9.9 s, never a burst.
    assert clock.now == pytest.approx(9.9, abs=0.01)


def test_a_pause_after_429_holds_every_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("ingest.stripe.helpers.time.sleep", lambda seconds: setattr(clock, "now", clock.now + seconds))
    limiter = RateLimiter(10.0, clock=clock)
    limiter.pause(2.0)
    limiter.acquire()
    assert clock.now >= 2.0


@pytest.mark.parametrize(
    ("key", "rate"),
    [
        pytest.param("sk_test_abc", 25.0, id="test-secret-key"),
        pytest.param("rk_test_abc", 25.0, id="test-restricted-key"),
        pytest.param("sk_live_abc", 100.0, id="live-secret-key"),
        pytest.param("rk_live_abc", 100.0, id="live-restricted-key"),
    ],
)
def test_default_rate_follows_stripe_limits(key: str, rate: float) -> None:
    assert default_max_rps(key) == rate


def test_mask_key_keeps_only_the_kind_and_last_four() -> None:
    assert mask_key("sk_test_4eC39HqLyjWDarjtT1zdp7dc") == "sk_test_****p7dc"
    assert "HqLy" not in mask_key("rk_live_4eC39HqLyjWDarjtT1zdp7dc")


class FakeReader(StripeReader):
    """Serves a list of objects with Stripe's list semantics, counting pages; no HTTP."""

    def __init__(self, objects: list[dict[str, Any]], workers: int) -> None:
        super().__init__(api_key="sk_test_fake_key_0000", workers=workers, max_rps=1e9)
        self.objects = sorted(objects, key=lambda o: (o["created"], o["id"]), reverse=True)
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def list_page(self, resource: str, path: str, params: Any) -> Page:
        with self.lock:
            self.threads.add(threading.current_thread().name)
            self.requests[resource] += 1
        created = params["created"]
        rows = [o for o in self.objects if created["gte"] <= o["created"] <= created["lte"]]
        if "starting_after" in params:
            position = next(i for i, o in enumerate(self.objects) if o["id"] == params["starting_after"])
            cursor = self.objects[position]
            rows = [o for o in rows if (o["created"], o["id"]) < (cursor["created"], cursor["id"])]
        page = rows[: params["limit"]]
        return Page(resource, page, has_more=len(rows) > len(page), fetched_at_ms=0)


@pytest.mark.parametrize("workers", [1, 4, 8], ids=lambda w: f"{w}-workers")
@pytest.mark.parametrize(
    "spread",
    [
        pytest.param("uniform", id="uniform"),
        pytest.param("bursty", id="many-per-second"),
    ],
)
def test_slicing_reads_every_object_exactly_once(workers: int, spread: str) -> None:
    start = 1_735_689_600
    if spread == "uniform":
        objects = [{"id": f"ch_{n:06d}", "created": start + n * 37} for n in range(5_000)]
    else:  # whole bursts of objects created in the same second: the id breaks the tie
        objects = [{"id": f"ch_{n:06d}", "created": start + (n // 250) * 3_600} for n in range(5_000)]
    reader = FakeReader(objects, workers)
    seen = Counter(o["id"] for page in read_created_range(reader, "charges", "/v1/charges", 0, 2_000_000_000) for o in page.objects)
    assert set(seen) == {o["id"] for o in objects}
    assert max(seen.values()) == 1
    if workers > 1 and spread == "uniform":
        assert len(reader.threads) > 1, "the range is shared between workers"


def test_an_error_in_one_worker_stops_the_read() -> None:
    class Failing(FakeReader):
        def list_page(self, resource: str, path: str, params: Any) -> Page:
            if "starting_after" in params:
                raise RuntimeError("boom")
            return super().list_page(resource, path, params)

    reader = Failing([{"id": f"ch_{n:05d}", "created": 1_735_689_600 + n} for n in range(1_000)], 4)
    with pytest.raises(RuntimeError, match="boom"):
        for _ in read_created_range(reader, "charges", "/v1/charges", 0, 2_000_000_000):
            pass


def test_flatten_declares_every_column_and_keeps_unknown_fields() -> None:
    charge = {
        "id": "ch_1",
        "amount": 1000,
        "billing_details": {"address": {"city": "Lyon", "country": "FR"}, "email": "a@b.c"},
        "metadata": {"invoice_number": "INV-100001"},
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "checks": {"cvc_check": "pass"}}},
        "brand_new_field": {"x": 1},
        "shipping": None,
    }
    row = flatten(charge, CHARGE_COLUMNS)
    assert set(CHARGE_COLUMNS) <= set(row)
    assert row["billing_details__address__city"] == "Lyon"
    assert row["payment_method_details__card__checks__cvc_check"] == "pass"
    assert json.loads(row["metadata"]) == {"invoice_number": "INV-100001"}
    assert row["shipping"] is None and row["transfer_group"] is None
    assert json.loads(row["_extra"]) == {"brand_new_field": {"x": 1}}
    assert isinstance(row["amount"], int)


@pytest.fixture
def silent_api() -> Iterator[str]:
    """A server that accepts every connection and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_an_api_that_never_answers_fails_naming_the_endpoint(silent_api: str) -> None:
    reader = StripeReader(api_key="sk_test_silent", api_base=silent_api, timeout_s=0.3, retry_budget_s=1.0)
    with pytest.raises(SourceUnavailableError) as raised:
        reader.list_page("balance_transactions", "/v1/balance_transactions", {"limit": 1})
    message = str(raised.value)
    assert "did not answer GET /v1/balance_transactions" in message
    assert silent_api in message
    assert reader.requests["balance_transactions"] >= 2  # retried, then given up within the budget


def test_the_default_worst_case_for_a_silent_api_is_under_three_minutes() -> None:
    """Every attempt starts before the budget is spent and waits at most the timeout to connect and
    the timeout to read; the last backoff never sleeps past the budget."""
    assert RETRY_BUDGET_S + CONNECT_TIMEOUT_S + DEFAULT_STRIPE_TIMEOUT_S < 180
    reader = StripeReader(api_key="sk_test_x")
    assert reader.timeout_s == DEFAULT_STRIPE_TIMEOUT_S and reader.retry_budget_s == RETRY_BUDGET_S
