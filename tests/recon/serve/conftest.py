"""A warehouse loaded up to a cut-off, and a real `recon serve` process in front of a copy of it."""

from __future__ import annotations

import io
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from core.settings import resolve
from recon.demo.live import ServiceProcess, world_cutoff
from tests.conftest import built_once

SECRET = "whsec_test_serve_0123456789abcdef"
LIVE_DAYS = 10  # the world's last days arrive by webhook, the rest by the batch run


@dataclass(frozen=True)
class LiveWorld:
    world: Path
    warehouse: Path  # the batch-loaded warehouse, never written by a test (copy it)
    cutoff: int  # unix seconds: objects created before it came by the batch run

    def events(self, *, since_cutoff: bool = True) -> list[dict[str, Any]]:
        with (self.world / "stripe" / "events.jsonl").open("rb") as handle:
            events = [json.loads(line) for line in handle if line.strip()]
        return [event for event in events if not since_cutoff or event["created"] >= self.cutoff]


@pytest.fixture(scope="session")
def live_world(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> LiveWorld:
    """`small_world` loaded by the batch run up to LIVE_DAYS before its end, models built."""
    from recon.demo.run import serving
    from recon.pipeline import run_steps

    cutoff = world_cutoff(small_world, LIVE_DAYS)

    def load(folder: Path) -> None:
        with serving(small_world, resolve(warehouse=str(folder / "live.duckdb"), target="duckdb", env={})) as settings:
            run_steps(settings, io.StringIO(), stripe_until=cutoff)

    # Once for every xdist worker (tests/conftest.py): the tests work on copies (warehouse_copy).
    warehouse = built_once(tmp_path_factory, "live-world", load) / "live.duckdb"
    return LiveWorld(small_world, warehouse, cutoff)


class Service(ServiceProcess):
    """A running `recon serve` (recon.demo.live.ServiceProcess) with helpers to post to it."""

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(self.webhook_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(json.loads(answer.read()))
        except urllib.error.HTTPError as error:
            return error.code, dict(json.loads(error.read()))

    def send(self, event: dict[str, Any], *, secret: str = SECRET, at: int | None = None) -> tuple[int, dict[str, Any]]:
        """Deliver one event signed as Stripe signs it (timestamp `at`, default now)."""
        from demoworld.webhooks import signature_header

        body = json.dumps(event).encode()
        header = signature_header(body, secret, int(time.time()) if at is None else at)
        return self.post(body, {"Stripe-Signature": header, "Content-Type": "application/json"})

    @property
    def warehouse(self) -> Path:
        return self.settings.warehouse


@pytest.fixture
def warehouse_copy(live_world: LiveWorld, tmp_path: Path) -> Path:
    """A copy of the live world's warehouse, this test's own (the dlt state stays behind:
    the service's pipeline keeps its own, beside the copy)."""
    copy = tmp_path / "wh" / live_world.warehouse.name  # dbt's views name the database by the file's stem
    copy.parent.mkdir()
    for suffix in ("", ".wal"):  # DuckDB keeps recent writes in the .wal until a checkpoint
        original = live_world.warehouse.with_name(live_world.warehouse.name + suffix)
        if original.exists():
            shutil.copyfile(original, copy.with_name(copy.name + suffix))
    return copy


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[[Path], Service]]:
    """`start_service(warehouse)`: a running `recon serve` on a free port, stopped after the test."""
    started: list[Service] = []

    def start(warehouse: Path) -> Service:
        settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
        running = Service(settings, SECRET, tmp_path / "serve.log")
        started.append(running)
        return cast(Service, running.start())

    yield start
    for running in started:
        if running.process is not None and running.process.poll() is None:
            running.stop()


@pytest.fixture
def service(warehouse_copy: Path, start_service: Callable[[Path], Service]) -> Service:
    return start_service(warehouse_copy)


@pytest.fixture
def query() -> Any:
    """`query(warehouse, sql, *params)`: read the warehouse as a reader should while the service
    runs, under the writer lock (between micro-batches)."""
    return _query


def _query(warehouse: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    from core.warehouse import connect_duckdb
    from recon.locking import writer_lock

    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    with writer_lock(settings, "test reader", timeout=120):
        connection = connect_duckdb(settings, read_only=True)
        try:
            return [tuple(row) for row in connection.execute(sql, list(params)).fetchall()]
        finally:
            connection.close()
