"""BI and the webhook service never block each other: BI reads the copy of the marts that each
micro-batch publishes (recon.bi_copy), over a real `recon serve` and real DuckDB files.

A BI tool on the warehouse file itself held every micro-batch back and saw DuckDB's lock error
while one ran; these tests read what the README tells BI to read, as BI tools do: one
connection held open, or a new one every tenth of a second.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from core.settings import resolve
from demoworld.webhooks import WEBHOOK_EVENT_TYPES, deliver_events, world_events
from recon.bi_copy import bi_copy_path
from recon.dbt import run_dbt, settings_env
from recon.demo.live import ServiceProcess
from recon.serve import default_inbox_path

MATCHES = "select count(*) from marts.fct_reconciliation_matches"
PUBLISHED = "select webhook_batch_id from recon_meta.publication"
SECRET = "whsec_test_bi_reads_0123456789abcdef"


def _charges(live_world: Any, count: int) -> list[dict[str, Any]]:
    events = [event for event in live_world.events() if event["type"] == "charge.succeeded"]
    assert len(events) >= count, "the live world has too few charges after its cut-off"
    return events[:count]


def _bi_path(service: Any) -> Path:
    return bi_copy_path(resolve(warehouse=str(service.warehouse), target="duckdb", env={}))


def _read(path: Path, *queries: str) -> list[Any]:
    """One BI read: connect read-only, query, close."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return [connection.execute(query).fetchall() for query in queries]
    finally:
        connection.close()


def test_a_reader_holding_the_bi_copy_open_never_holds_back_a_micro_batch(
    service: Any, live_world: Any
) -> None:
    service.wait_published()
    path = _bi_path(service)
    held = duckdb.connect(str(path), read_only=True)  # a BI tool's connection, open throughout
    try:
        before = held.execute(MATCHES).fetchall()
        event = _charges(live_world, 1)[0]

        assert service.send(event)[0] == 200
        health = service.wait_published()

        assert health["status"] == "ok" and health["last_batch"]["error"] is None
        assert health["inbox"]["unbuilt"] == 0
        assert held.execute(MATCHES).fetchall() == before  # still reading, the copy it opened
        assert held.execute(PUBLISHED).fetchall() == [(None,)]
    finally:
        held.close()
    # Reconnected, the reader sees the micro-batch's marts.
    charge_id = event["data"]["object"]["id"]
    published, in_marts = _read(
        path,
        PUBLISHED,
        "select count(*) from marts.fct_reconciliation_matches where stripe_object_id = "
        f"'{charge_id}'",
    )
    assert published == [(health["last_batch"]["batch_id"],)]
    assert in_marts == [(1,)]
    assert "ERROR" not in service.log_path.read_text()


class _Poller(threading.Thread):
    """A BI tool refreshing a dashboard: a new read-only connection every 0.1 s."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.reads: list[tuple[int, int | None]] = []  # (ms when read, the copy's batch)
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                published, _ = _read(self.path, PUBLISHED, MATCHES)
                self.reads.append((int(time.time() * 1000), published[0][0]))
            except duckdb.Error as error:
                self.errors.append(str(error))
            self.stop.wait(0.1)

    def read_once_more(self) -> None:
        """Until a read that started after this call has finished."""
        done = len(self.reads) + len(self.errors)
        while len(self.reads) + len(self.errors) < done + 2 and self.is_alive():
            time.sleep(0.05)


def test_a_reader_polling_the_bi_copy_during_micro_batches_sees_no_lock_error(
    service: Any, live_world: Any, tmp_path: Path
) -> None:
    service.wait_published()
    poller = _Poller(_bi_path(service))
    poller.start()
    try:
        events = _charges(live_world, 30)
        for start in range(0, len(events), 10):  # three rounds: three micro-batches at least
            for event in events[start : start + 10]:
                assert service.send(event)[0] == 200
            health = service.wait_published()
        poller.read_once_more()
    finally:
        poller.stop.set()
        poller.join(30)

    assert poller.errors == []
    last = health["last_batch"]["batch_id"]
    assert last >= 3 and poller.reads[-1][1] == last
    batches = _batches(default_inbox_path(service.settings))
    read_during_a_batch = [
        at for at, _ in poller.reads if any(started <= at <= built for started, built in batches)
    ]
    assert read_during_a_batch, "no read fell while a micro-batch was writing"


def _batches(inbox: Path) -> list[tuple[int, int]]:
    connection = sqlite3.connect(inbox)
    try:
        rows = connection.execute(
            "select started_at_ms, built_at_ms from batches where built_at_ms is not null"
        ).fetchall()
    finally:
        connection.close()
    return [(int(started), int(built)) for started, built in rows]


def test_micro_batches_publish_to_the_configured_copy_marts_identical_to_a_full_build(
    live_world: Any, warehouse_copy: Path, tmp_path: Path
) -> None:
    """`recon serve --bi-copy PATH` publishes there (and nowhere beside the warehouse); the marts
    its micro-batches build (each rebuilding only what the changed tables feed, the second and
    later leaving out the views they cannot change) are those a full `dbt run` of every model
    builds from the same raw tables (the batches replaying dbt's compiled SQL after the service's
    warm-up, recon.serve.replay)."""
    configured = tmp_path / "for-bi" / "dashboards.duckdb"  # a folder that does not exist yet
    settings = resolve(warehouse=str(warehouse_copy), target="duckdb", bi_copy=str(configured), env={})
    events = list(world_events(live_world.world, types=WEBHOOK_EVENT_TYPES, created_gte=live_world.cutoff))
    assert len(events) > 20
    half = len(events) // 2
    with ServiceProcess(settings, SECRET, tmp_path / "serve.log") as service:
        service.wait_ready()
        for part in (events[:half], events[half:]):  # two micro-batches at least
            assert deliver_events(part, service.webhook_url, SECRET, concurrency=4).complete
            health = service.wait_published()
    assert health["bi_copy"]["path"] == str(configured)
    assert health["last_batch"]["batch_id"] >= 2
    assert not bi_copy_path(resolve(warehouse=str(warehouse_copy), target="duckdb", env={})).exists()
    log = (tmp_path / "serve.log").read_text()
    assert "ERROR" not in log and "WARNING" not in log
    # Before the first event dbt built the marts whose contract is enforced and compiled every
    # model the webhooks feed (the warm-up); every batch replayed the SQL dbt compiled
    # (recon.serve.replay): what is compared below is theirs.
    assert re.search(r"warm-up: [1-9]\d* models whose contract is enforced built by dbt, and every model the webhooks feed compiled", log)
    batches = [line for line in log.splitlines() if " batch " in line and "models rebuilt" in line]
    assert len(batches) >= 2 and all("models rebuilt from their compiled SQL" in line for line in batches), batches

    copy = duckdb.connect(str(configured), read_only=True)
    try:
        tables = [row[0] for row in copy.execute(MART_TABLES).fetchall()]
        published = {table: copy.execute(f"select * from marts.{table} order by all").fetchall() for table in tables}
    finally:
        copy.close()
    run_dbt(["run"], settings_env(settings))  # every model, from the raw tables the events wrote
    warehouse = duckdb.connect(str(warehouse_copy), read_only=True)
    try:
        assert [row[0] for row in warehouse.execute(MART_TABLES).fetchall()] == tables
        for table in tables:
            assert warehouse.execute(f"select * from marts.{table} order by all").fetchall() == published[table], table
    finally:
        warehouse.close()
    assert "fct_reconciliation_matches" in tables and published["fct_reconciliation_matches"]


MART_TABLES = (
    "select table_name from information_schema.tables where table_schema = 'marts' "
    "and table_catalog = current_database() order by table_name"
)
