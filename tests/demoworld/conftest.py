"""Fixtures for the demo world and the local Stripe-compatible API: worlds of the real
generator (demoworld.world), one per scale, made once a session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from demoworld.stripe_api import DEFAULT_API_KEY, StripeAPIServer
from demoworld.world import WorldSpec, generate_world

# about 1,570 charges (some failed) over six months: more than 15 pages of 100
API_WORLD = WorldSpec(seed=7, scale=1500)
SMALL_WORLD = WorldSpec(seed=11, scale=60, months=1)


@pytest.fixture(scope="session")
def api_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only world shared by the session (do not upsert: the index is in the folder)."""
    root = tmp_path_factory.mktemp("api_world")
    generate_world(API_WORLD, root)
    return root


@pytest.fixture(scope="session")
def _small_world_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small_world")
    generate_world(SMALL_WORLD, root)
    return root


@pytest.fixture
def small_world(_small_world_files: Path, tmp_path: Path) -> Path:
    """A private copy of a small world (about 60 charges) that a test may change."""
    return Path(shutil.copytree(_small_world_files, tmp_path / "world"))


@pytest.fixture(scope="session")
def stripe_api(api_world: Path) -> Iterator[StripeAPIServer]:
    """The local Stripe API over the shared world, without faults."""
    with StripeAPIServer(api_world, api_keys=(DEFAULT_API_KEY,)) as server:
        yield server
