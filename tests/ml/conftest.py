"""One small demo world (scale 1500, 6 months), loaded and built with dbt once for every test of
the classifier; tests that change the history work on copies of its warehouse."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from recon.settings import Settings, resolve

WORLD_SCALE = 1_500
WORLD_SEED = 11


@dataclass(frozen=True)
class MlWarehouse:
    world: Path
    warehouse: Path
    settings: Settings


@pytest.fixture(scope="session")
def ml_warehouse(tmp_path_factory: pytest.TempPathFactory) -> MlWarehouse:
    """The demo world through the real local Stripe API, ingestion and `dbt build` (run_demo)."""
    from recon.demo import run_demo

    root = tmp_path_factory.mktemp("ml")
    world, warehouse = root / "world", root / "recon.duckdb"
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    run_demo(
        settings, scale=WORLD_SCALE, seed=WORLD_SEED, world_dir=str(world), port=0,
        serve=False, out=io.StringIO(), fresh_warehouse=False,
    )
    return MlWarehouse(world, warehouse, settings)


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
