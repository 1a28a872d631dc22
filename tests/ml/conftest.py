"""One small demo world (scale 1500, 6 months), loaded and built with dbt once for every test of
the classifier; tests that change the history work on copies of its warehouse."""

from __future__ import annotations

import io

import pytest
from ml_support import MlWarehouse

from core.settings import resolve

WORLD_SCALE = 1_500
WORLD_SEED = 11


@pytest.fixture(scope="session")
def ml_warehouse(tmp_path_factory: pytest.TempPathFactory) -> MlWarehouse:
    """The demo world through the real local Stripe API, ingestion and `dbt build` (run_demo)."""
    from recon.demo.run import run_demo

    root = tmp_path_factory.mktemp("ml")
    world, warehouse = root / "world", root / "recon.duckdb"
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    run_demo(
        settings, scale=WORLD_SCALE, seed=WORLD_SEED, world_dir=str(world), port=0,
        serve=False, out=io.StringIO(), fresh_warehouse=False,
    )
    return MlWarehouse(world, warehouse, settings)
