"""The session's demo world (tests/conftest.py), on a warehouse of the classifier's tests; tests that
change the history work on copies of it."""

from __future__ import annotations

from typing import Any

import pytest
from ml_support import MlWarehouse

from core.settings import resolve


@pytest.fixture(scope="session")
def ml_warehouse(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> MlWarehouse:
    """The session's demo world through the whole pipeline (tests/conftest.py), on a copy."""
    warehouse = demo_run.copy_to(tmp_path_factory.mktemp("ml") / "recon.duckdb")
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    return MlWarehouse(demo_run.world, warehouse, settings)
