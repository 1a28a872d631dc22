"""The warehouse's writer lock: one writer at a time, across processes, and it says who holds it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.errors import SourceUnavailableError
from core.settings import resolve
from recon.locking import holder, lock_path, writer_lock


def test_a_second_writer_waits_and_is_told_who_writes(tmp_path: Path) -> None:
    settings = resolve(warehouse=str(tmp_path / "w.duckdb"), target="duckdb", env={})
    script = textwrap.dedent(
        f"""
        import sys, time
        from recon.locking import writer_lock
        from core.settings import resolve
        settings = resolve(warehouse={str(settings.warehouse)!r}, target="duckdb", env={{}})
        with writer_lock(settings, "recon run"):
            print("held", flush=True)
            time.sleep(3)
        """
    )
    other = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        told: list[str] = []
        with (
            pytest.raises(SourceUnavailableError, match=r"recon run \(pid \d+\) is writing to it"),
            writer_lock(settings, "test", timeout=0.3, on_wait=told.append),
        ):
            pass
        assert told and told[0].startswith("recon run (pid")
        started = time.monotonic()
        with writer_lock(settings, "test"):  # waits until the other process lets go
            assert holder(settings).startswith("test (pid")
        assert time.monotonic() - started > 0.5
    finally:
        other.wait(timeout=30)
    assert lock_path(settings) == tmp_path / "w.duckdb.writer.lock"
