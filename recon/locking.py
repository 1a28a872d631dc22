"""One writer at a time: the warehouse's writer lock, shared by `recon run` and `recon serve`.

DuckDB lets one process write a database file; a second one fails at once with "Could not set
lock on file". So that the batch run and the webhook service take turns instead of failing,
every writing step of this project holds an exclusive `flock` on `<warehouse>.writer.lock`
while it writes, and waits for it otherwise. The lock file says who holds it (command and
pid), so a waiting run can say what it waits for. The service holds it for one micro-batch at
a time (seconds) and closes its DuckDB handles before letting go, so a run waits at most that
long; while the run holds it, the service keeps accepting events into its inbox.

On PostgreSQL the server takes concurrent writers, but two builds of the same models would
still trip on each other's tables: the same lock, a file named after the database, orders the
writers of this machine.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import SourceUnavailableError
from core.settings import Settings

log = logging.getLogger(__name__)


def lock_path(settings: Settings) -> Path:
    """The lock file of the warehouse `settings` point at."""
    if settings.target == "duckdb":
        return settings.warehouse.with_name(settings.warehouse.name + ".writer.lock")
    database = os.environ.get("RECON_PG_DATABASE") or "test"
    return settings.warehouse.parent / f".{settings.target}-{database}.writer.lock"


def holder(settings: Settings) -> str:
    """Who holds (or last held) the lock, as the lock file says."""
    try:
        return lock_path(settings).read_text().strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def writer_lock(
    settings: Settings,
    who: str,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block; wait for it (for ever by default).

    `on_wait` is told once, with the holder's description, when the lock is busy.
    """
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        started = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait(holder(settings))
                    told = True
                if timeout is not None and time.monotonic() - started >= timeout:
                    raise SourceUnavailableError(
                        f"The warehouse is busy: {holder(settings)} is writing to it; try again when it is done."
                    ) from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{who} (pid {os.getpid()})\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


@contextmanager
def reader_lock(settings: Settings, *, timeout: float) -> Iterator[None]:
    """Hold the warehouse's lock shared for a read (the review page): readers share it, a writer
    waits for them and they for a writer, so a read never holds the file when a writer opens it
    and never sees a write half done. Busy for longer than `timeout`: SourceUnavailableError."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - started >= timeout:
                    raise SourceUnavailableError(
                        f"The warehouse is busy: {holder(settings)} is writing to it; try again when it is done."
                    ) from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
