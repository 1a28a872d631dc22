"""The suite's own set-up: what makes it fast must really be in force."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("suite-self-check")
def test_a_grouped_test_carries_its_group_to_the_scheduler(request: pytest.FixtureRequest) -> None:
    """Under `--dist loadgroup` xdist's scheduler sends tests to workers by the group suffix of
    their node id: without it, every heavy session fixture (tests/conftest.py HEAVY_FIXTURES) is
    built once a worker and the groups' tests run side by side (seen with pytest 9.2)."""
    if not request.config.getoption("loadgroup", default=False):
        pytest.skip("not under pytest-xdist's --dist loadgroup")
    assert request.node.nodeid.endswith("@suite-self-check"), request.node.nodeid
