"""The webhook inbox: every accepted event, durably, once, before Stripe hears 2xx.

A SQLite file beside the warehouse (WAL, `synchronous=FULL`: a commit is on disk when it
returns). Only the service writes it, through one committer thread that groups the events of
concurrent requests into one transaction, one fsync for many requests. An event id is a primary
key: a duplicate delivery adds to `deliveries` and stores nothing new. The micro-batcher reads
pending events in arrival order and marks them applied (in the raw tables) then built (in the
marts), so a restart resumes exactly where the last run stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recon.durable import open_sqlite

log = logging.getLogger(__name__)

SCHEMA = """
create table if not exists events (
    event_id text primary key,
    event_type text not null,
    event_created integer not null,
    object_type text,
    object_id text,
    payload blob not null,
    received_at_ms integer not null,
    deliveries integer not null default 1,
    batch_id integer,
    applied_at_ms integer,
    built_at_ms integer
);
create index if not exists events_pending on events (received_at_ms) where batch_id is null;
create index if not exists events_unbuilt on events (batch_id) where built_at_ms is null;
create table if not exists batches (
    batch_id integer primary key,
    started_at_ms integer not null,
    applied_at_ms integer,
    built_at_ms integer,
    events integer not null,
    summary text,
    error text
);
create table if not exists batcher_status (
    id integer primary key check (id = 1),
    state text not null,
    error text,
    updated_at_ms integer not null
);
create table if not exists bi_copy (
    id integer primary key check (id = 1),
    path text not null,
    published_at_ms integer not null,
    webhook_batch_id integer,
    seconds real not null
);
"""

MAX_GROUP = 2_000  # events per commit at most


@dataclass(frozen=True)
class Received:
    """One verified delivery, ready to store."""

    event_id: str
    event_type: str
    event_created: int
    object_type: str | None
    object_id: str | None
    payload: bytes


@dataclass(frozen=True)
class Pending:
    event_id: str
    payload: bytes


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the inbox at `path`, created if missing."""
    return open_sqlite(path, SCHEMA)


class Inbox:
    """The inbox's reads and the micro-batcher's bookkeeping (the committer does the inserts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = connect(path)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._con.execute("begin immediate")
            try:
                yield self._con
            except BaseException:
                self._con.execute("rollback")
                raise
            self._con.execute("commit")

    def pending(self, limit: int) -> list[Pending]:
        """Events not yet applied, in arrival order."""
        with self._lock:
            rows = self._con.execute(
                "select event_id, payload from events where batch_id is null order by received_at_ms, rowid limit ?",
                (limit,),
            ).fetchall()
        return [Pending(str(row[0]), bytes(row[1])) for row in rows]

    def start_batch(self, event_ids: Sequence[str]) -> int:
        now = _now_ms()
        with self._transaction() as con:
            cursor = con.execute(
                "insert into batches (started_at_ms, events) values (?, ?)", (now, len(event_ids))
            )
            batch_id = int(cursor.lastrowid or 0)
        return batch_id

    def mark_applied(self, batch_id: int, event_ids: Sequence[str], summary: str) -> None:
        now = _now_ms()
        with self._transaction() as con:
            con.executemany(
                "update events set batch_id = ?, applied_at_ms = ? where event_id = ?",
                [(batch_id, now, event_id) for event_id in event_ids],
            )
            con.execute(
                "update batches set applied_at_ms = ?, summary = ? where batch_id = ?", (now, summary, batch_id)
            )

    def mark_built(self, batch_ids: Sequence[int]) -> int:
        """Every event applied by these batches is now in the marts; returns how many."""
        now = _now_ms()
        with self._transaction() as con:
            changed = 0
            for batch_id in batch_ids:
                changed += con.execute(
                    "update events set built_at_ms = ? where batch_id = ? and built_at_ms is null", (now, batch_id)
                ).rowcount
                con.execute("update batches set built_at_ms = ?, error = null where batch_id = ?", (now, batch_id))
        return changed

    def record_error(self, batch_id: int, error: str) -> None:
        with self._transaction() as con:
            con.execute("update batches set error = ? where batch_id = ?", (error[:2000], batch_id))

    def prune(self, keep_days: int) -> int:
        """Remove the events built more than `keep_days` ago (and their batches); returns how many.

        A delivery of a pruned event arriving later is stored and applied again: harmless, an
        older or equal state never overwrites the stored one."""
        cutoff = _now_ms() - keep_days * 86_400_000
        with self._transaction() as con:
            removed = con.execute("delete from events where built_at_ms < ?", (cutoff,)).rowcount
            con.execute(
                "delete from batches where built_at_ms < ? and batch_id not in "
                "(select batch_id from events where batch_id is not null)",
                (cutoff,),
            )
        return int(removed)

    def set_status(self, state: str, error: str | None = None) -> None:
        """What the micro-batcher is doing, for /healthz (the batcher runs in its own process)."""
        with self._transaction() as con:
            con.execute(
                "insert into batcher_status (id, state, error, updated_at_ms) values (1, ?, ?, ?) "
                "on conflict (id) do update set state = excluded.state, error = excluded.error, "
                "updated_at_ms = excluded.updated_at_ms",
                (state, None if error is None else error[:2000], _now_ms()),
            )

    def set_published(self, path: Path, webhook_batch_id: int | None, seconds: float) -> None:
        """The BI copy was published (recon.bi_copy) with the events of batches up to `webhook_batch_id`."""
        with self._transaction() as con:
            con.execute(
                "insert into bi_copy (id, path, published_at_ms, webhook_batch_id, seconds) values (1, ?, ?, ?, ?) "
                "on conflict (id) do update set path = excluded.path, published_at_ms = excluded.published_at_ms, "
                "webhook_batch_id = excluded.webhook_batch_id, seconds = excluded.seconds",
                (str(path), _now_ms(), webhook_batch_id, seconds),
            )

    def published(self) -> dict[str, Any] | None:
        """The last BI copy this service published, for /healthz."""
        with self._lock:
            row = self._con.execute(
                "select path, published_at_ms, webhook_batch_id, seconds from bi_copy"
            ).fetchone()
        if row is None:
            return None
        keys = ("path", "published_at_ms", "webhook_batch_id", "seconds")
        return dict(zip(keys, row, strict=True))

    def last_built_batch(self) -> int | None:
        """The newest batch whose events are in the marts."""
        with self._lock:
            row = self._con.execute("select max(batch_id) from batches where built_at_ms is not null").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def status(self) -> dict[str, Any] | None:
        with self._lock:
            row = self._con.execute("select state, error, updated_at_ms from batcher_status").fetchone()
        return None if row is None else {"state": row[0], "error": row[1], "updated_at_ms": row[2]}

    def unbuilt_batches(self) -> list[int]:
        """Batches that may have changed the raw tables without the marts being rebuilt: applied
        and not built (a failed or cut build), and started and never applied (a failed or cut
        apply, which dlt may have written in part: its retry then finds those objects stored, not
        newer, and would rebuild nothing from them)."""
        with self._lock:
            rows = self._con.execute(
                "select batch_id from batches where built_at_ms is null order by batch_id"
            ).fetchall()
        return [int(row[0]) for row in rows]

    def counts(self) -> dict[str, int]:
        """events, deliveries, pending (not in the raw tables), unbuilt (not in the marts)."""
        with self._lock:
            events, deliveries = self._con.execute(
                "select count(*), coalesce(sum(deliveries), 0) from events"
            ).fetchone()
            pending = self._con.execute("select count(*) from events where batch_id is null").fetchone()[0]
            unbuilt = self._con.execute("select count(*) from events where built_at_ms is null").fetchone()[0]
        return {"events": int(events), "deliveries": int(deliveries), "pending": int(pending), "unbuilt": int(unbuilt)}

    def last_batch(self) -> dict[str, Any] | None:
        with self._lock:
            row = self._con.execute(
                "select batch_id, started_at_ms, applied_at_ms, built_at_ms, events, summary, error "
                "from batches order by batch_id desc limit 1"
            ).fetchone()
        if row is None:
            return None
        keys = ("batch_id", "started_at_ms", "applied_at_ms", "built_at_ms", "events", "summary", "error")
        return dict(zip(keys, row, strict=True))


class Committer:
    """One thread that inserts the deliveries of concurrent requests, one transaction per group.

    `await committer.store(received)` returns True for a new event, False for a duplicate, only
    once the transaction holding it has committed (fsynced); it raises if the commit failed, and
    the request then answers 5xx so that Stripe delivers again.
    """

    def __init__(self, path: Path, on_commit: Any = None) -> None:
        self._con = connect(path)
        self._queue: queue.Queue[tuple[Received, asyncio.Future[bool]] | None] = queue.Queue()
        self._on_commit = on_commit
        self._thread = threading.Thread(target=self._run, name="inbox-committer", daemon=True)
        self._thread.start()
        self.commits = 0

    async def store(self, received: Received) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put((received, future))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._con.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[tuple[Received, asyncio.Future[bool]]]) -> None:
        outcomes: list[bool] = []
        now = _now_ms()
        try:
            self._con.execute("begin immediate")
            for received, _ in group:
                cursor = self._con.execute(
                    "insert into events (event_id, event_type, event_created, object_type, object_id, payload, "
                    "received_at_ms) values (?, ?, ?, ?, ?, ?, ?) on conflict (event_id) do nothing",
                    (
                        received.event_id, received.event_type, received.event_created,
                        received.object_type, received.object_id, received.payload, now,
                    ),
                )
                is_new = cursor.rowcount == 1
                if not is_new:
                    self._con.execute(
                        "update events set deliveries = deliveries + 1 where event_id = ?", (received.event_id,)
                    )
                outcomes.append(is_new)
            self._con.execute("commit")
        except Exception as error:
            log.error("inbox commit failed: %s", error)
            with contextlib.suppress(sqlite3.Error):
                self._con.execute("rollback")
            for _, future in group:
                _resolve(future, error=error)
            return
        self.commits += 1
        for (_, future), is_new in zip(group, outcomes, strict=True):
            _resolve(future, result=is_new)
        if self._on_commit is not None and any(outcomes):
            self._on_commit()


def _resolve(future: asyncio.Future[bool], *, result: bool = False, error: BaseException | None = None) -> None:
    loop = future.get_loop()

    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    loop.call_soon_threadsafe(settle)


def _now_ms() -> int:
    return int(time.time() * 1000)
