"""The SQLite files the service and the review page write beside the warehouse (the webhook inbox,
the review's decisions store): each write on disk when it returns, several processes sharing it."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_sqlite(path: Path, schema: str) -> sqlite3.Connection:
    """A connection to the file at `path`, created with `schema` if missing: WAL (readers never
    block the writer), `synchronous=FULL` (a commit is on disk when it returns), autocommit (the
    callers open their own `begin immediate` transactions), a 30 s wait for another writer, and
    usable from the thread pool that serves requests (callers hold their own lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    con.execute("pragma journal_mode = wal")
    con.execute("pragma synchronous = full")
    con.execute("pragma busy_timeout = 30000")
    con.executescript(schema)
    return con
