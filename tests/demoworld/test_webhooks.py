"""Webhook deliveries of a demo world's events, over real HTTP, verified by the real `stripe` library.

The receiver is a real `ThreadingHTTPServer` on 127.0.0.1 that records every request (its
arrival order, headers and body) and answers what the test tells it to.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stripe

from core.errors import UserError
from demoworld.stripe_api import WEBHOOK_SECRET_ENV, StripeAPIServer, main
from demoworld.webhooks import (
    WEBHOOK_EVENT_TYPES,
    DeliveryReport,
    deliver_events,
    signature_header,
    world_events,
)
from demoworld.world import WorldSpec, generate_world

SECRET = "whsec_test_7fQ2xLr9Vb3Kp1sT"
WRONG_SECRET = "whsec_test_not_the_endpoints"
TOLERANCE = 300
FAST = {"backoff": 0.001}  # retries back off for a millisecond: the tests stay fast

# (event id, how many times the receiver has seen it before, body) -> HTTP status to answer
Responder = Callable[[str, int, bytes], int]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any]


class Receiver:
    """A webhook endpoint that records every request and answers as `responder` says."""

    def __init__(self, responder: Responder | None = None, answer_body: bytes = b"{}") -> None:
        self.responder: Responder = responder or (lambda _id, _seen, _body: 200)
        self.answer_body = answer_body
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body leave in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer on a keep-alive connection for ~40 ms
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event = json.loads(body)
                with receiver.lock:
                    seen = sum(r.event["id"] == event["id"] for r in receiver.requests)
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), body, event)
                    )
                status = receiver.responder(event["id"], seen, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.answer_body)))
                self.end_headers()
                self.wfile.write(receiver.answer_body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/stripe"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def ids(self) -> list[str]:
        return [r.event["id"] for r in self.requests]


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(responder: Responder | None = None, answer_body: bytes = b"{}") -> Receiver:
        made.append(Receiver(responder, answer_body))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def receiver(receiver_factory: Callable[..., Receiver]) -> Receiver:
    return receiver_factory()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real generated world, one month of 200 sales: about 320 webhook events."""
    root = tmp_path_factory.mktemp("webhook-world")
    generate_world(WorldSpec(seed=5, scale=200, months=1), root)
    return root


@pytest.fixture(scope="module")
def events(world: Path) -> list[bytes]:
    return list(world_events(world, types=WEBHOOK_EVENT_TYPES))


def event_ids(events: list[bytes]) -> list[str]:
    return [json.loads(e)["id"] for e in events]


def sent_before_older(created: list[int]) -> int:
    """What the receiver saw: events that arrived before one with an older `created`."""
    return sum(
        1 for i, value in enumerate(created) if any(later < value for later in created[i + 1 :])
    )


def first_arrivals(receiver: Receiver) -> list[Received]:
    seen: set[str] = set()
    firsts = []
    for r in receiver.requests:
        if r.event["id"] not in seen:
            seen.add(r.event["id"])
            firsts.append(r)
    return firsts


# ------------------------------------------------------------------ signatures


def test_signature_header_is_stripes() -> None:
    payload = b'{"id":"evt_1","object":"event","created":1735689600,"note":"caf\xc3\xa9"}'
    now = int(time.time())
    header = signature_header(payload, SECRET, now)
    assert header == stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8"), SECRET, now
    )
    assert header.startswith(f"t={now},v1=")
    stripe.WebhookSignature.verify_header(payload, header, SECRET, TOLERANCE)


def test_a_signature_older_than_the_tolerance_is_rejected(events: list[bytes]) -> None:
    body = events[0]
    fresh = signature_header(body, SECRET, int(time.time()) - TOLERANCE + 30)
    assert stripe.Webhook.construct_event(body, fresh, SECRET, tolerance=TOLERANCE).id
    stale = signature_header(body, SECRET, int(time.time()) - TOLERANCE - 30)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(body, stale, SECRET, tolerance=TOLERANCE)


# ------------------------------------------------------------------ deliveries


def test_every_delivery_verifies_with_the_right_secret_and_only_with_it(
    events: list[bytes], receiver: Receiver
) -> None:
    started = time.time()
    report = deliver_events(events, receiver.url, SECRET, concurrency=4)
    ended = time.time()

    ids = event_ids(events)
    assert len(receiver.requests) == len(events) == report.events == len(set(ids))
    assert Counter(receiver.ids()) == Counter(ids)
    assert {r.body for r in receiver.requests} == set(events)  # the lines, byte for byte
    for r in receiver.requests:
        assert r.path == "/webhooks/stripe"
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.headers["User-Agent"].startswith("Stripe/1.0")
        signature = r.headers["Stripe-Signature"]
        event = stripe.Webhook.construct_event(r.body, signature, SECRET, tolerance=TOLERANCE)
        assert event.id == r.event["id"] and event.type in WEBHOOK_EVENT_TYPES
        assert started - 1 <= int(signature.split(",")[0][2:]) <= ended
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(r.body, signature, WRONG_SECRET, tolerance=TOLERANCE)
    assert report.deliveries == report.acknowledged == len(events)
    assert report.retried == report.rejected == report.duplicates_sent == 0
    assert report.failed == [] and report.unacknowledged == [] and report.complete
    assert report.acked_at.keys() == set(ids)
    assert all(started <= at <= ended for at in report.acked_at.values())


def test_all_webhook_types_of_the_world_are_sent(events: list[bytes]) -> None:
    types = Counter(json.loads(e)["type"] for e in events)
    assert types.keys() <= set(WEBHOOK_EVENT_TYPES)
    for needed in ("charge.succeeded", "charge.refunded", "refund.created", "payout.paid"):
        assert types[needed] > 0, needed
    assert types["refund.created"] == types["charge.refunded"]


@pytest.mark.parametrize("concurrency", [1, 4], ids=["one-connection", "four-connections"])
def test_duplicates_are_counted_and_come_after_the_first_delivery(
    events: list[bytes], receiver: Receiver, concurrency: int
) -> None:
    report = deliver_events(
        events, receiver.url, SECRET, duplicate_rate=0.2, seed=3, concurrency=concurrency
    )
    seen = Counter(receiver.ids())
    assert seen.keys() == set(event_ids(events))
    assert report.duplicates_sent == sum(n - 1 for n in seen.values())
    assert 0.1 * len(events) < report.duplicates_sent < 0.3 * len(events)
    assert report.deliveries == report.acknowledged == len(events) + report.duplicates_sent
    assert report.events == len(events) and report.complete
    by_id: dict[str, list[Received]] = {}
    for r in receiver.requests:
        by_id.setdefault(r.event["id"], []).append(r)
    for copies in (c for c in by_id.values() if len(c) > 1):
        assert len({c.body for c in copies}) == 1  # same body, same id
        for c in copies:  # each copy signed on its own, and verifiable
            stripe.Webhook.construct_event(
                c.body, c.headers["Stripe-Signature"], SECRET, tolerance=TOLERANCE
            )
    if concurrency == 1:  # one connection: arrival order is send order
        order = receiver.ids()
        for event_id, n in seen.items():
            if n > 1:
                first = order.index(event_id)
                assert event_id in order[first + 1 : first + 1 + 16 + 16]


def test_reordering_sends_newer_events_first_and_the_report_agrees(
    events: list[bytes], receiver: Receiver
) -> None:
    report = deliver_events(events, receiver.url, SECRET, reorder_window=10, seed=5, concurrency=1)
    created = [r.event["created"] for r in first_arrivals(receiver)]
    assert sorted(receiver.ids()) == sorted(event_ids(events))  # each once, nothing lost
    assert report.reordered == sent_before_older(created)
    assert report.reordered > 0.2 * len(events)
    # the shuffle stays within windows of 10: an event moves less than 10 places
    position = {event_id: n for n, event_id in enumerate(event_ids(events))}
    assert all(abs(position[i] - n) < 10 for n, i in enumerate(receiver.ids()))


def test_without_reordering_the_events_arrive_in_file_order(
    events: list[bytes], receiver: Receiver
) -> None:
    report = deliver_events(events, receiver.url, SECRET, concurrency=1)
    assert receiver.ids() == event_ids(events)
    assert report.reordered == sent_before_older([json.loads(e)["created"] for e in events]) == 0


def test_the_same_seed_plans_the_same_deliveries(
    events: list[bytes], receiver_factory: Callable[..., Receiver]
) -> None:
    orders = []
    for _ in range(2):
        r = receiver_factory()
        deliver_events(
            events, r.url, SECRET, duplicate_rate=0.1, reorder_window=7, seed=9, concurrency=1
        )
        orders.append(r.ids())
    assert orders[0] == orders[1]


def test_a_500_on_the_first_attempt_is_retried_and_nothing_is_lost(
    events: list[bytes], receiver_factory: Callable[..., Receiver]
) -> None:
    unlucky = set(event_ids(events)[::7])
    receiver = receiver_factory(
        lambda event_id, seen, _body: 500 if event_id in unlucky and seen == 0 else 200
    )
    report = deliver_events(events, receiver.url, SECRET, concurrency=4, **FAST)
    seen = Counter(receiver.ids())
    assert {i for i, n in seen.items() if n == 2} == unlucky
    assert set(seen.values()) == {1, 2}
    assert report.retried == len(unlucky)
    assert report.deliveries == len(events) + len(unlucky)
    assert report.acknowledged == len(events)
    assert report.acked_at.keys() == seen.keys()
    assert report.failed == [] and report.rejected == 0 and report.complete


def test_an_endpoint_that_keeps_failing_ends_in_failed_and_rejected_not_lost(
    events: list[bytes], receiver_factory: Callable[..., Receiver]
) -> None:
    ids = event_ids(events)[:20]
    bad_request, broken = ids[3], ids[11]

    def responder(event_id: str, _seen: int, _body: bytes) -> int:
        return {bad_request: 400, broken: 503}.get(event_id, 200)

    # an endpoint that echoes the secret in its error must not get it into the report
    receiver = receiver_factory(responder, answer_body=f'{{"error":"bad {SECRET}"}}'.encode())
    report = deliver_events(events[:20], receiver.url, SECRET, max_attempts=3, **FAST)
    assert Counter(receiver.ids())[bad_request] == Counter(receiver.ids())[broken] == 3
    assert report.retried == 4
    assert report.rejected == 1
    assert report.rejected_samples[0]["event_id"] == bad_request
    assert report.rejected_samples[0]["status"] == 400
    assert SECRET not in json.dumps(report.to_json())
    assert report.failed == [broken]
    assert report.unacknowledged == sorted([bad_request, broken])
    assert report.acknowledged == 18 and not report.complete


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_unreachable_url_counts_every_event_as_failed(events: list[bytes]) -> None:
    url = f"http://127.0.0.1:{_free_port()}/webhooks/stripe"
    report = deliver_events(events, url, SECRET, max_attempts=3, timeout=2, **FAST)
    assert report.events == len(events)
    assert report.deliveries == report.acknowledged == 0
    assert report.failed == sorted(event_ids(events))
    assert report.unacknowledged == report.failed
    assert report.acked_at == {}


def test_max_rate_paces_the_deliveries(events: list[bytes], receiver: Receiver) -> None:
    report = deliver_events(events[:41], receiver.url, SECRET, max_rate=200, concurrency=4)
    assert report.acknowledged == 41
    assert report.seconds >= 0.19  # 41 requests at 200 a second: 40 intervals of 5 ms


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"duplicate_rate": 1.5}, "duplicate_rate"),
        ({"reorder_window": -1}, "reorder_window"),
        ({"concurrency": 0}, "concurrency"),
        ({"max_rate": 0}, "max_rate"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
    ids=["duplicate-rate", "reorder-window", "concurrency", "max-rate", "max-attempts"],
)
def test_bad_options_are_user_errors(
    events: list[bytes], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        deliver_events(events, "http://127.0.0.1:9/x", SECRET, **options)


def test_a_bad_url_or_an_empty_secret_is_a_user_error(events: list[bytes]) -> None:
    with pytest.raises(UserError, match="not an http"):
        deliver_events(events, "ftp://127.0.0.1/x", SECRET)
    with pytest.raises(UserError, match="secret"):
        deliver_events(events, "http://127.0.0.1:9/x", "")


def test_report_to_json_is_json(events: list[bytes], receiver: Receiver) -> None:
    report = deliver_events(events[:5], receiver.url, SECRET)
    out = json.loads(json.dumps(report.to_json()))
    assert out["events"] == out["acknowledged"] == 5
    assert set(out["acked_at"]) == set(event_ids(events[:5]))
    assert "acked_at" not in report.to_json(include_acked_at=False)
    assert isinstance(report, DeliveryReport) and "5 events" in report.summary()


# ------------------------------------------------------------------ reading a world


def test_world_events_filters_by_type_and_created(world: Path) -> None:
    everything = [json.loads(e) for e in world_events(world)]
    lines = (world / "stripe" / "events.jsonl").read_bytes().splitlines()
    assert len(everything) == len(lines)
    assert {"customer.created", "payment_intent.succeeded"} <= {e["type"] for e in everything}
    created = sorted(e["created"] for e in everything)
    since, until = created[len(created) // 3], created[2 * len(created) // 3]
    window = [json.loads(e) for e in world_events(world, created_gte=since, created_lt=until)]
    assert window == [e for e in everything if since <= e["created"] < until]
    payouts = [json.loads(e) for e in world_events(world, types="payout.paid")]
    assert payouts and {e["type"] for e in payouts} == {"payout.paid"}


def test_world_events_needs_a_world(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="generate a world"):
        list(world_events(tmp_path))


def test_the_local_api_sends_refund_created_with_each_refund(
    world: Path, receiver: Receiver
) -> None:
    refunds = {
        json.loads(line)["id"]: json.loads(line)
        for line in (world / "stripe" / "refunds.jsonl").read_text().splitlines()
    }
    with StripeAPIServer(world) as api:
        report = api.send_events(receiver.url, SECRET, types=("refund.created",), concurrency=1)
    assert report.complete and report.events == len(refunds) > 0
    sent = {r.event["data"]["object"]["id"]: r.event for r in receiver.requests}
    assert sent.keys() == refunds.keys()
    for refund_id, event in sent.items():
        assert event["type"] == "refund.created"
        assert event["data"]["object"] == refunds[refund_id]
        assert event["created"] == refunds[refund_id]["created"]


# ------------------------------------------------------------------ command line


def test_the_command_without_a_secret_exits_2_with_one_sentence(
    world: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv(WEBHOOK_SECRET_ENV, raising=False)
    assert main(["--world", str(world), "--send-events-to", receiver.url]) == 2
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith(".")
    assert WEBHOOK_SECRET_ENV in lines[0] and lines[0].count(". ") == 0
    assert err == "" and receiver.requests == []


def test_the_command_sends_the_window_and_never_shows_the_secret(
    world: Path,
    events: list[bytes],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    created = sorted(json.loads(e)["created"] for e in events)
    since, until = created[50], created[150]
    expected = [e for e in events if since <= json.loads(e)["created"] < until]
    code = main(
        [
            "--world", str(world),
            "--send-events-to", receiver.url,
            "--since", str(since),
            "--until", str(until),
            "--duplicate-rate", "0.1",
            "--reorder-window", "5",
            "--concurrency", "2",
            "--max-rate", "5000",
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, out
    assert 1 <= len(out.strip().splitlines()) <= 2
    assert f"{len(expected)} events" in out and "0 failed" in out
    assert set(receiver.ids()) == set(event_ids(expected))
    assert SECRET not in out + err + caplog.text


def test_the_command_exits_1_when_events_are_rejected_and_hides_the_secret(
    world: Path,
    receiver_factory: Callable[..., Receiver],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = receiver_factory(
        lambda _id, _seen, _body: 400, answer_body=f'{{"error":"no {SECRET}"}}'.encode()
    )
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    code = main(
        ["--world", str(world), "--send-events-to", receiver.url, "--event-type", "payout.failed"]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert len(out.strip().splitlines()) == 2 and "first rejected" in out
    assert SECRET not in out + err + caplog.text


def test_the_command_exits_2_when_nothing_answers(
    world: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    url = f"http://127.0.0.1:{_free_port()}/webhooks/stripe"
    code = main(["--world", str(world), "--send-events-to", url, "--event-type", "payout.paid"])
    out, _ = capsys.readouterr()
    assert code == 2 and "never answered" in out and SECRET not in out


def test_delivery_options_need_send_events_to(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--world", str(world), "--duplicate-rate", "0.1"])
    assert exited.value.code == 2
    assert "--send-events-to" in capsys.readouterr().err
