"""A demo world's Stripe events sent as Stripe sends webhooks: signed, at least once, out of order.

`deliver_events(events, url, secret)` POSTs each event's JSON (a line of the world's
`stripe/events.jsonl`, sent byte for byte) to `url` with a `Stripe-Signature` header made
exactly as Stripe makes it (`signature_header`), so `stripe.Webhook.construct_event` verifies
it. Like Stripe it signs at delivery time (every retry and every duplicate gets a fresh
timestamp), delivers at least once (a connection error, a timeout or any non-2xx answer is
retried with a doubling backoff up to `max_attempts`, then counted, never dropped) and
promises no order. An endpoint that has never answered once `concurrency` deliveries used up
their attempts (nothing listens there) fails the remaining events without trying them. Two knobs make the mess a receiver must survive, both seeded:

- `duplicate_rate`: that share of events is delivered a second time a little later (1 to
  `DUPLICATE_MAX_GAP` deliveries after the first, so it may overlap it when concurrent).
- `reorder_window`: events are shuffled within consecutive windows of that many, so some
  newer events are sent before older ones. `DeliveryReport.reordered` counts the events sent
  (first deliveries, in the order they were handed to the senders) before an event with a
  strictly older `created`; with `concurrency=1` and no retries that is the order the
  receiver sees.

Throughput: `concurrency` threads, each with one persistent keep-alive `http.client`
connection; `max_rate` paces every HTTP request (retries included) to that many a second.
The report keeps, per event id, the wall-clock time (`time.time()`) of its first 2xx.

`world_events(world_dir, ...)` reads a world's events, filtered by type and `created`;
`WEBHOOK_EVENT_TYPES` are the types a reconciliation endpoint subscribes to.

The signing secret is only ever an argument of these functions (the command line reads it
from `STRIPE_WEBHOOK_SECRET`); it is never logged and is masked in any answer body kept.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import logging
import queue
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from core.errors import UserError

log = logging.getLogger(__name__)

# What a reconciliation endpoint subscribes to: money moving and the states that decide it.
WEBHOOK_EVENT_TYPES: Final[tuple[str, ...]] = (
    "charge.succeeded",
    "charge.refunded",
    "refund.created",
    "charge.dispute.created",
    "charge.dispute.closed",
    "payout.paid",
    "payout.failed",
    "invoice.paid",
    "balance.available",
)
SIGNATURE_SCHEME: Final = "v1"
USER_AGENT: Final = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
DUPLICATE_MAX_GAP: Final = 16  # a duplicate follows its first delivery 1..16 deliveries later
REJECTED_SAMPLES: Final = 5  # rejected answers kept in the report (id, status, body excerpt)
BODY_EXCERPT: Final = 200
BACKOFF_MAX_S: Final = 2.0
_QUEUE_PER_SENDER: Final = 64


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's `Stripe-Signature`: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + payload>`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},{SIGNATURE_SCHEME}={mac.hexdigest()}"


def world_events(
    world_dir: Path,
    *,
    types: Collection[str] | None = None,
    created_gte: int | None = None,
    created_lt: int | None = None,
) -> Iterator[bytes]:
    """The events of `<world_dir>/stripe/events.jsonl` in file order, each line's bytes
    without its newline; only `types` (None: every type) created in [created_gte, created_lt)."""
    path = Path(world_dir) / "stripe" / "events.jsonl"
    if not path.is_file():
        raise UserError(f"{path} does not exist: generate a world first (recon demo)")
    wanted = None if types is None else frozenset((types,) if isinstance(types, str) else types)
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            body = line.rstrip(b"\r\n")
            if not body.strip():
                continue
            try:
                event = orjson.loads(body)
                kind, created = event["type"], event["created"]
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise UserError(
                    f"{path}:{number}: not a Stripe event with a type and a created time ({exc}); "
                    "regenerate the world"
                ) from exc
            if wanted is not None and kind not in wanted:
                continue
            if created_gte is not None and created < created_gte:
                continue
            if created_lt is not None and created >= created_lt:
                continue
            yield body


@dataclass
class DeliveryReport:
    """What one `deliver_events` run did.

    `events` counts distinct event ids; `deliveries` the HTTP requests that got an answer
    (any status, retries and duplicates included) and `acknowledged` those answered 2xx;
    `retried` the requests repeated after an error or a non-2xx answer. A delivery that never
    got its 2xx ends `rejected` (the last answer was 4xx; a few are kept in
    `rejected_samples`) or in `failed` (5xx, timeout or no connection; its event id).
    `acked_at` maps each acknowledged event id to the wall-clock time of its first 2xx.
    """

    url: str
    events: int = 0
    deliveries: int = 0
    acknowledged: int = 0
    duplicates_sent: int = 0
    reordered: int = 0
    retried: int = 0
    rejected: int = 0
    rejected_samples: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    acked_at: dict[str, float] = field(default_factory=dict)
    unacknowledged: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Answered deliveries a second."""
        return self.deliveries / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        """Every event was acknowledged at least once."""
        return not self.unacknowledged

    def summary(self) -> str:
        """One line for a person."""
        return (
            f"{self.events:,} events to {self.url}: {self.deliveries:,} deliveries, "
            f"{self.acknowledged:,} acknowledged, {self.duplicates_sent:,} duplicates, "
            f"{self.reordered:,} reordered, {self.retried:,} retried, {self.rejected:,} rejected, "
            f"{len(self.failed):,} failed, {len(self.unacknowledged):,} never acknowledged; "
            f"{self.seconds:.1f} s ({self.rate:,.0f} deliveries/s)"
        )

    def to_json(self, *, include_acked_at: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": self.url,
            "events": self.events,
            "deliveries": self.deliveries,
            "acknowledged": self.acknowledged,
            "duplicates_sent": self.duplicates_sent,
            "reordered": self.reordered,
            "retried": self.retried,
            "rejected": self.rejected,
            "rejected_samples": list(self.rejected_samples),
            "failed": list(self.failed),
            "unacknowledged": list(self.unacknowledged),
            "seconds": round(self.seconds, 3),
            "deliveries_per_second": round(self.rate, 1),
        }
        if include_acked_at:
            out["acked_at"] = dict(self.acked_at)
        return out


@dataclass(slots=True)
class _Delivery:
    event_id: str
    body: bytes
    duplicate: bool


@dataclass
class _SenderTally:
    """One sender thread's counts, merged into the report at the end (no shared lock)."""

    deliveries: int = 0
    acknowledged: int = 0
    retried: int = 0
    rejected: int = 0
    rejected_samples: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    acked_at: dict[str, float] = field(default_factory=dict)


def _redacted_url(url: str) -> str:
    """The URL without any user:password part (never printed)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc).geturl()


class _Pacer:
    """At most `rate` requests a second across threads: each takes the next free slot."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


class _Run:
    """One delivery run: a planner (the caller's thread) feeding `concurrency` senders."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        duplicate_rate: float,
        reorder_window: int,
        seed: int,
        concurrency: int,
        max_rate: float | None,
        max_attempts: int,
        timeout: float,
        backoff: float,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(
                f"{_redacted_url(url)!r} is not an http(s) URL: give the webhook endpoint, "
                "e.g. http://127.0.0.1:8000/webhooks/stripe"
            )
        if not secret:
            raise UserError("the webhook signing secret is empty: give the endpoint's secret")
        if not 0.0 <= duplicate_rate <= 1.0:
            raise UserError("duplicate_rate must be between 0 and 1")
        if reorder_window < 0:
            raise UserError("reorder_window must be 0 (no shuffling) or more")
        if concurrency < 1:
            raise UserError("concurrency must be at least 1")
        if max_rate is not None and max_rate <= 0:
            raise UserError("max_rate must be a positive number of deliveries a second")
        if max_attempts < 1:
            raise UserError("max_attempts must be at least 1")
        if timeout <= 0 or backoff < 0:
            raise UserError("timeout must be positive and backoff not negative")
        try:
            port = parts.port
        except ValueError as exc:
            raise UserError(f"{_redacted_url(url)!r} has a bad port: {exc}") from None
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = port
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.secret = secret
        self.duplicate_rate = duplicate_rate
        self.reorder_window = reorder_window
        self.seed = seed
        self.concurrency = concurrency
        self.pacer = _Pacer(max_rate) if max_rate is not None else None
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.backoff = backoff
        self.report = DeliveryReport(url=_redacted_url(url))
        self.ids: set[str] = set()
        self.first_created: list[int | None] = []  # created of first deliveries, in send order
        self.stop = threading.Event()
        self.crash: BaseException | None = None
        # an endpoint that never answered anything after `concurrency` deliveries used all
        # their attempts is unreachable: the rest are counted failed without being tried
        self.answered = False
        self.unanswered_deliveries = 0
        self.unreachable = False
        self.lock = threading.Lock()

    # ---- planning (the caller's thread)

    def _parsed(self, body: bytes, number: int) -> tuple[str, int | None]:
        try:
            event = orjson.loads(body)
            event_id = event["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(f"event {number} is not a Stripe event with an id ({exc})") from exc
        if not isinstance(event_id, str) or not event_id:
            raise UserError(f"event {number}: its id must be a non-empty string")
        created = event.get("created")
        return event_id, created if isinstance(created, int) else None

    def plan(self, events: Iterable[bytes]) -> Iterator[_Delivery]:
        """The deliveries in send order: windows shuffled, duplicates a few deliveries later."""
        rng = Random(self.seed)
        later: list[tuple[int, int, _Delivery]] = []  # (due position, seq, duplicate)
        position = 0
        window: list[tuple[_Delivery, int | None]] = []
        size = max(self.reorder_window, 1)

        def release(batch: list[tuple[_Delivery, int | None]]) -> Iterator[_Delivery]:
            nonlocal position
            if len(batch) > 1:
                rng.shuffle(batch)
            for delivery, created in batch:
                while later and later[0][0] <= position:
                    yield heapq.heappop(later)[2]
                    position += 1
                self.first_created.append(created)
                yield delivery
                position += 1
                if self.duplicate_rate > 0 and rng.random() < self.duplicate_rate:
                    due = position + rng.randint(1, DUPLICATE_MAX_GAP) - 1
                    heapq.heappush(
                        later, (due, position, _Delivery(delivery.event_id, delivery.body, True))
                    )

        for number, body in enumerate(events, start=1):
            event_id, created = self._parsed(body, number)
            self.ids.add(event_id)
            window.append((_Delivery(event_id, bytes(body), False), created))
            if len(window) >= size:
                yield from release(window)
                window = []
        yield from release(window)
        while later:
            yield heapq.heappop(later)[2]

    # ---- sending (one thread each)

    def _connection(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _send(self, work: queue.Queue[_Delivery | None], tally: _SenderTally) -> None:
        connection = self._connection()
        try:
            while (delivery := work.get()) is not None:
                if self.crash is None and not self.stop.is_set():
                    try:
                        self._deliver(connection, delivery, tally)
                    except BaseException as exc:  # a bug: stop the run and raise it in the caller
                        self.crash = exc
                        self.stop.set()
        finally:
            connection.close()

    def _deliver(
        self, connection: http.client.HTTPConnection, delivery: _Delivery, tally: _SenderTally
    ) -> None:
        if self.unreachable:
            tally.failed.append(delivery.event_id)
            return
        body = delivery.body
        status: int | None = None
        answer = b""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                if not self.unreachable:
                    time.sleep(min(self.backoff * 2 ** (attempt - 2), BACKOFF_MAX_S))
                if self.stop.is_set() or self.unreachable:
                    break
                tally.retried += 1
            if self.pacer is not None:
                self.pacer.wait()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Stripe-Signature": signature_header(body, self.secret, int(time.time())),
            }
            try:
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()  # the next request opens a fresh connection
                status = None
                log.debug("delivery of %s, attempt %d: %s", delivery.event_id, attempt, exc)
                continue
            status = response.status
            tally.deliveries += 1
            self.answered = True
            if 200 <= status < 300:
                tally.acknowledged += 1
                tally.acked_at.setdefault(delivery.event_id, time.time())
                return
            log.debug("delivery of %s, attempt %d: HTTP %d", delivery.event_id, attempt, status)
        if status is not None and 400 <= status < 500:
            tally.rejected += 1
            if len(tally.rejected_samples) < REJECTED_SAMPLES:
                excerpt = answer[:BODY_EXCERPT].decode("utf-8", "replace")
                tally.rejected_samples.append(
                    {
                        "event_id": delivery.event_id,
                        "status": status,
                        "body": excerpt.replace(self.secret, "[secret]"),
                    }
                )
        else:
            tally.failed.append(delivery.event_id)
            if status is None and not self.answered:
                with self.lock:
                    self.unanswered_deliveries += 1
                    if self.unanswered_deliveries >= self.concurrency and not self.unreachable:
                        self.unreachable = True
                        log.info(
                            "%s never answered: the remaining events are failed", self.report.url
                        )

    # ---- the run

    def run(self, events: Iterable[bytes]) -> DeliveryReport:
        started = time.perf_counter()
        work: queue.Queue[_Delivery | None] = queue.Queue(self.concurrency * _QUEUE_PER_SENDER)
        tallies = [_SenderTally() for _ in range(self.concurrency)]
        senders = [
            threading.Thread(
                target=self._send, args=(work, tally), name=f"webhook-sender-{n}", daemon=True
            )
            for n, tally in enumerate(tallies)
        ]
        for sender in senders:
            sender.start()
        duplicates = 0
        try:
            for delivery in self.plan(events):
                if self.stop.is_set():
                    break
                duplicates += delivery.duplicate
                work.put(delivery)
        except BaseException:
            self.stop.set()  # the senders drain what is queued without sending it
            raise
        finally:
            for _ in senders:
                work.put(None)
            for sender in senders:
                sender.join()
        if self.crash is not None:
            raise self.crash
        report = self.report
        report.seconds = time.perf_counter() - started
        report.events = len(self.ids)
        report.duplicates_sent = duplicates
        report.reordered = _sent_before_older(self.first_created)
        for tally in tallies:
            report.deliveries += tally.deliveries
            report.acknowledged += tally.acknowledged
            report.retried += tally.retried
            report.rejected += tally.rejected
            report.rejected_samples.extend(tally.rejected_samples)
            report.failed.extend(tally.failed)
            for event_id, at in tally.acked_at.items():
                if event_id not in report.acked_at or at < report.acked_at[event_id]:
                    report.acked_at[event_id] = at
        del report.rejected_samples[REJECTED_SAMPLES:]
        report.failed.sort()
        report.unacknowledged = sorted(self.ids - report.acked_at.keys())
        if report.unacknowledged:
            log.info(
                "%d of %d events were never acknowledged by %s",
                len(report.unacknowledged),
                report.events,
                report.url,
            )
        return report


def _sent_before_older(created: list[int | None]) -> int:
    """How many events were followed, later in the list, by one with a strictly older created."""
    count = 0
    oldest_after: int | None = None
    for value in reversed(created):
        if value is None:
            continue
        if oldest_after is not None and value > oldest_after:
            count += 1
        if oldest_after is None or value < oldest_after:
            oldest_after = value
    return count


def deliver_events(
    events: Iterable[bytes],
    url: str,
    secret: str,
    *,
    duplicate_rate: float = 0.0,
    reorder_window: int = 0,
    seed: int = 0,
    concurrency: int = 4,
    max_rate: float | None = None,
    max_attempts: int = 5,
    timeout: float = 10.0,
    backoff: float = 0.05,
) -> DeliveryReport:
    """POST each event (raw JSON bytes, sent as they are) to `url`, signed with `secret` as
    Stripe signs webhooks, at least once; see the module's docstring for the options.

    Raises `UserError` for bad options or an event without an id; an unreachable or failing
    endpoint is not an error: its deliveries are counted in the report as failed.
    """
    run = _Run(
        url,
        secret,
        duplicate_rate=duplicate_rate,
        reorder_window=reorder_window,
        seed=seed,
        concurrency=concurrency,
        max_rate=max_rate,
        max_attempts=max_attempts,
        timeout=timeout,
        backoff=backoff,
    )
    return run.run(events)
