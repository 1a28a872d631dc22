"""The session's demo world, built once more with dbt on its own copy, for every test of the dbt project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class BuiltWarehouse:
    world: Path
    warehouse: Path
    result: Any


@pytest.fixture(scope="session")
def loaded_world(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The session's demo world (tests/conftest.py: scale 1500, 6 months, through the real local
    Stripe-compatible API, the real ingestion and the whole pipeline), on a warehouse of its own."""
    warehouse = demo_run.copy_to(tmp_path_factory.mktemp("models") / "recon.duckdb")
    return demo_run.world, warehouse


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
