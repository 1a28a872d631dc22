"""The webhook inbox's bookkeeping (recon.serve.inbox) on a real SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

from recon.serve.inbox import Inbox, connect

DAY_MS = 86_400_000


def test_prune_removes_only_events_built_long_ago(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    now = int(time.time() * 1000)
    con = connect(path)
    rows = [
        ("evt_old", now - 40 * DAY_MS, now - 40 * DAY_MS),  # built 40 days ago: goes
        ("evt_recent", now - 2 * DAY_MS, now - 2 * DAY_MS),  # built 2 days ago: stays
        ("evt_unbuilt", now - 40 * DAY_MS, None),  # never built: stays, whatever its age
    ]
    for event_id, received, built in rows:
        con.execute(
            "insert into events (event_id, event_type, event_created, payload, received_at_ms, built_at_ms) "
            "values (?, 'charge.succeeded', 1, x'7b7d', ?, ?)",
            (event_id, received, built),
        )
    con.close()
    inbox = Inbox(path)
    try:
        assert inbox.prune(30) == 1
        assert inbox.counts()["events"] == 2
        assert inbox.prune(30) == 0
    finally:
        inbox.close()


def test_a_running_service_object_never_shows_its_secret(tmp_path: Path) -> None:
    """Its repr reaches tracebacks and test reports."""
    from core.settings import resolve
    from recon.demo.live import ServiceProcess
    from recon.serve import ServeConfig

    settings = resolve(warehouse=str(tmp_path / "w.duckdb"), env={})
    secret = "whsec_never_shown_0123"
    assert secret not in repr(ServiceProcess(settings, secret, tmp_path / "serve.log"))
    assert secret not in repr(ServeConfig(settings, secret, tmp_path / "inbox.sqlite"))
