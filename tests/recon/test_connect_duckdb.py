"""Opening the DuckDB warehouse: one configuration in a process, read-only where it can be."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from core.errors import SourceUnavailableError, UserError
from core.settings import Settings, resolve
from core.warehouse import connect_duckdb


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select 1 as x")
    return resolve(warehouse=str(path), target="duckdb", env={})


@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "read-write"])
def test_a_missing_file_is_a_user_error_with_the_callers_hint(tmp_path: Path, read_only: bool) -> None:
    settings = resolve(warehouse=str(tmp_path / "none.duckdb"), target="duckdb", env={})
    with pytest.raises(UserError, match="not found: run `recon run`"):
        connect_duckdb(settings, read_only=read_only)
    with pytest.raises(UserError, match="not found: load it first"):
        connect_duckdb(settings, read_only=read_only, not_found_hint="load it first.")
    assert not (tmp_path / "none.duckdb").exists()


@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "read-write"])
def test_opens_beside_a_read_write_handle_of_this_process(settings: Settings, read_only: bool) -> None:
    """As after dbt ran in this process: dbt-duckdb's handle is read-write, default configuration."""
    with duckdb.connect(str(settings.warehouse)) as held:
        held.execute("insert into t values (2)")
        with connect_duckdb(settings, read_only=read_only) as con:
            assert con.execute("select count(*) from t").fetchone() == (2,)


def test_read_only_shares_the_file_with_another_reader(settings: Settings) -> None:
    with (
        duckdb.connect(str(settings.warehouse), read_only=True),
        connect_duckdb(settings, read_only=True) as con,
    ):
        assert con.execute("select x from t").fetchall() == [(1,)]


def test_read_only_while_another_process_writes_is_source_unavailable(settings: Settings) -> None:
    script = textwrap.dedent(
        f"""
        import sys, duckdb
        con = duckdb.connect({str(settings.warehouse)!r})
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        with pytest.raises(SourceUnavailableError, match="another process may be writing it"):
            connect_duckdb(settings, read_only=True)
    finally:
        assert writer.stdin is not None
        writer.stdin.close()
        writer.wait(timeout=30)
