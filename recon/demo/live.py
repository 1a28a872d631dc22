"""Live mode: a world's last days arrive as webhooks at a running `recon serve`.

Used by `recon demo --live` and by benchmarks/bench_webhooks.py. The batch run loads the world
up to a cut-off (`recon run` with Stripe read up to it); then `recon serve` runs as its own
process in front of the same warehouse, the local Stripe-compatible API's sender delivers every
webhook event after the cut-off, signed, with duplicates and reordering, and the report says
what was accepted, how fast, and how long each event took to reach the marts (from the inbox's
own times: first received, built).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ReconError
from core.settings import Settings
from demoworld.webhooks import WEBHOOK_EVENT_TYPES, DeliveryReport, deliver_events, world_events
from recon.serve import default_inbox_path
from recon.serve.microbatch import WARMING_UP


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServiceProcess:
    """`recon serve` as a child process on 127.0.0.1 (the secret only in its environment)."""

    settings: Settings
    secret: str = field(repr=False)  # a dataclass repr reaches tracebacks and test reports
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return self.url + "/webhooks/stripe"

    def start(self, timeout: float = 120.0) -> ServiceProcess:
        self.port = self.port or free_port()
        env = {**os.environ, "STRIPE_WEBHOOK_SECRET": self.secret, "DO_NOT_TRACK": "1"}
        env.pop("RECON_WAREHOUSE", None)
        env.pop("RECON_BI_COPY", None)
        bi_copy = ["--bi-copy", str(self.settings.bi_copy)] if self.settings.bi_copy is not None else []
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "recon.cli", "serve", "--port", str(self.port),
                 "--warehouse", str(self.settings.warehouse), "--target", self.settings.target, *bi_copy],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ReconError(f"recon serve exited at start: {self._log_tail()}")
            try:
                self.health()
                return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        self.stop()
        raise ReconError(f"recon serve did not answer within {timeout:.0f} s: {self._log_tail()}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until the micro-batcher has parsed the dbt project and warmed up (events are accepted
        before that, and wait in the inbox)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batcher = self.health().get("batcher") or {}
            if batcher.get("state") not in (None, "parsing the dbt project", WARMING_UP):
                return
            time.sleep(0.1)
        raise ReconError(f"the micro-batcher did not start within {timeout:.0f} s: {self._log_tail()}")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/healthz", timeout=10) as answer:
            return dict(json.loads(answer.read()))

    def wait_built(self, events: int, timeout: float = 300.0) -> dict[str, Any]:
        """Until the inbox holds at least `events` events and all of them are in the marts."""
        deadline = time.monotonic() + timeout
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            health = self.health()
            inbox = health["inbox"]
            if inbox["events"] >= events and inbox["unbuilt"] == 0:
                return health
            time.sleep(0.1)
        raise ReconError(f"the marts did not catch up within {timeout:.0f} s: {health}; {self._log_tail()}")

    def wait_published(self, timeout: float = 300.0) -> dict[str, Any]:
        """Until the BI copy (recon.bi_copy; DuckDB) holds every event of the inbox: all built,
        and a copy published since the last micro-batch that built them."""
        deadline = time.monotonic() + timeout
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            health = self.health()
            copy = health.get("bi_copy")
            last = health.get("last_batch") or {}
            built = last.get("batch_id") if last.get("built_at_ms") is not None else None
            if copy is not None and health["inbox"]["unbuilt"] == 0 and (
                built is None or (copy["webhook_batch_id"] or 0) >= built
            ):
                return health
            time.sleep(0.1)
        raise ReconError(f"the BI copy did not catch up within {timeout:.0f} s: {health}; {self._log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> int | None:
        """SIGINT: uvicorn's graceful stop; the batch under way finishes."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Latencies:
    """Event-to-mart latency of the events sent: from the inbox's first receipt to the end of
    the micro-batch build that put them in the marts."""

    values_ms: list[int] = field(default_factory=list)
    missing: int = 0  # sent but not in the inbox, or not built

    def percentile(self, share: float) -> float:
        if not self.values_ms:
            return float("nan")
        ordered = sorted(self.values_ms)
        index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
        return ordered[index] / 1000

    def render(self) -> str:
        return (
            f"event-to-mart latency p50 {self.percentile(0.5):.2f} s, p95 {self.percentile(0.95):.2f} s, "
            f"max {self.percentile(1.0):.2f} s over {len(self.values_ms):,} events"
            + (f"; {self.missing} not in the marts" if self.missing else "")
        )


def latencies(inbox_path: Path, event_ids: Sequence[str]) -> Latencies:
    """The latencies of `event_ids`, read from the inbox."""
    result = Latencies()
    connection = sqlite3.connect(f"file:{inbox_path}?mode=ro", uri=True)
    try:
        connection.execute("create temp table sent (event_id text primary key)")
        connection.executemany("insert or ignore into sent values (?)", [(event_id,) for event_id in event_ids])
        rows = connection.execute(
            "select events.received_at_ms, events.built_at_ms from sent "
            "left join events on events.event_id = sent.event_id"
        ).fetchall()
    finally:
        connection.close()
    for received, built in rows:
        if received is None or built is None:
            result.missing += 1
        else:
            result.values_ms.append(int(built) - int(received))
    return result


def world_cutoff(world_dir: Path, live_days: int) -> int:
    """Unix seconds `live_days` before the end of a demo world (its manifest's `end`, exclusive)."""
    manifest = json.loads((world_dir / "manifest.json").read_text())
    end = dt.datetime.combine(dt.date.fromisoformat(str(manifest["end"])), dt.time(), tzinfo=dt.UTC)
    return int(end.timestamp()) - live_days * 86_400


@dataclass
class LiveReport:
    delivery: DeliveryReport
    inbox: dict[str, int]
    batches: int
    latency: Latencies

    def render(self) -> str:
        return "\n".join(
            [
                f"Webhooks sent: {self.delivery.summary()}",
                f"Inbox: {self.inbox['events']:,} events stored once from {self.inbox['deliveries']:,} "
                f"acknowledged deliveries; {self.inbox['unbuilt']:,} not yet in the marts; {self.batches} micro-batches",
                f"Marts: {self.latency.render()}",
            ]
        )


def deliver_live(
    settings: Settings,
    world_dir: Path,
    cutoff: int,
    *,
    log_path: Path,
    duplicate_rate: float = 0.05,
    reorder_window: int = 25,
    concurrency: int = 8,
    max_events: int | None = None,
    max_rate: float | None = None,
    seed: int = 0,
) -> LiveReport:
    """Start `recon serve` on the warehouse, deliver the world's webhook events created at or
    after `cutoff` (at most `max_events`), wait until the marts hold them all, and report."""
    events = list(world_events(world_dir, types=WEBHOOK_EVENT_TYPES, created_gte=cutoff))
    if max_events is not None:
        events = events[:max_events]
    ids = [str(json.loads(event)["id"]) for event in events]
    secret = "whsec_" + secrets.token_hex(24)  # this run's endpoint secret: never printed
    with ServiceProcess(settings, secret, log_path) as service:
        service.wait_ready()
        delivery = deliver_events(
            events, service.webhook_url, secret, duplicate_rate=duplicate_rate,
            reorder_window=reorder_window, concurrency=concurrency, seed=seed, max_rate=max_rate,
        )
        health = service.wait_built(len(set(ids)))
        last = health.get("last_batch") or {}
    return LiveReport(
        delivery=delivery,
        inbox=health["inbox"],
        batches=int(last.get("batch_id") or 0),
        latency=latencies(default_inbox_path(settings), ids),
    )
