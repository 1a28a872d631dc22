"""A small demo world, generated once per test session, for every ingestion test."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_WORLD_SCALE = 1_500
SMALL_WORLD_SEED = 7


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ingest.demo.world import WorldSpec, generate_world

    out = tmp_path_factory.mktemp("world") / f"seed{SMALL_WORLD_SEED}-scale{SMALL_WORLD_SCALE}"
    generate_world(WorldSpec(seed=SMALL_WORLD_SEED, scale=SMALL_WORLD_SCALE, months=3), out)
    return out
