"""Helpers of the classifier's tests, in a module of its own (not conftest.py), so that tests import
it by a name no other folder uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recon.settings import Settings, resolve


@dataclass(frozen=True)
class MlWarehouse:
    world: Path
    warehouse: Path
    settings: Settings


def copy_warehouse(source: Path, target: Path) -> Settings:
    """A copy of a DuckDB warehouse (every schema and table), for a test that changes it."""
    import duckdb

    # dbt-duckdb may hold the source open in this process: open it the same way, attach the copy.
    con = duckdb.connect(str(source))
    try:
        con.execute(f"attach '{target}' as warehouse_copy")
        con.execute(f"copy from database {source.stem} to warehouse_copy")
        con.execute("detach warehouse_copy")
    finally:
        con.close()
    return resolve(warehouse=str(target), target="duckdb", env={})
