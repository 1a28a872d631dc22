"""Fixtures for the demo world and the local Stripe-compatible API (helpers: synthetic_world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from synthetic_world import write_synthetic_world

from demoworld.stripe_api import DEFAULT_API_KEY, StripeAPIServer


@pytest.fixture(scope="session")
def synthetic_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only synthetic world of 1,500 charges shared by the session (do not upsert)."""
    return write_synthetic_world(tmp_path_factory.mktemp("world"), n_charges=1500, seed=7)


@pytest.fixture
def small_world(tmp_path: Path) -> Path:
    """A private synthetic world of 60 charges that a test may change."""
    return write_synthetic_world(tmp_path / "world", n_charges=60, seed=11)


@pytest.fixture(scope="session")
def stripe_api(synthetic_world: Path) -> Iterator[StripeAPIServer]:
    """The local Stripe API over the shared world, without faults."""
    with StripeAPIServer(synthetic_world, api_keys=(DEFAULT_API_KEY,)) as server:
        yield server
