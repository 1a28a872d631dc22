"""One small demo world, loaded once and built once with dbt, for every test of the dbt project."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

WORLD_SCALE = 1_500
WORLD_SEED = 5


@dataclass(frozen=True)
class BuiltWarehouse:
    world: Path
    warehouse: Path
    result: Any


@pytest.fixture(scope="session")
def loaded_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A demo world (scale 1500, 6 months) loaded into a fresh DuckDB file through the real
    local Stripe-compatible API and the real ingestion."""
    from core.settings import resolve
    from recon.demo.run import run_demo

    root = tmp_path_factory.mktemp("models")
    world, warehouse = root / "world", root / "recon.duckdb"
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    run_demo(
        settings, scale=WORLD_SCALE, seed=WORLD_SEED, world_dir=str(world), port=0,
        serve=False, out=io.StringIO(), fresh_warehouse=False,
    )
    return world, warehouse


@pytest.fixture(scope="session")
def built(loaded_world: tuple[Path, Path]) -> BuiltWarehouse:
    """`dbt build` once on the loaded world (models, seeds, data tests and unit tests)."""
    from recon.dbt import run_dbt

    world, warehouse = loaded_world
    result = run_dbt(["build"], {"RECON_WAREHOUSE": str(warehouse), "RECON_TARGET": "duckdb"})
    return BuiltWarehouse(world, warehouse, result)


@pytest.fixture(scope="session")
def con(built: BuiltWarehouse) -> Any:
    import duckdb

    # dbt-duckdb keeps its connection open in this process: open the file the same way.
    connection = duckdb.connect(str(built.warehouse))
    yield connection
    connection.close()
