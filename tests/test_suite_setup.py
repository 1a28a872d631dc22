"""The suite's own set-up: what makes it fast must really be in force."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import HEAVY_FIXTURES


@pytest.mark.xdist_group("suite-self-check")
def test_a_grouped_test_carries_its_group_to_the_scheduler(request: pytest.FixtureRequest) -> None:
    """Under `--dist loadgroup` xdist's scheduler sends tests to workers by the group suffix of
    their node id: without it, every heavy session fixture (tests/conftest.py HEAVY_FIXTURES) is
    built once a worker and the groups' tests run side by side (seen with pytest 9.2)."""
    if not request.config.getoption("loadgroup", default=False):
        pytest.skip("not under pytest-xdist's --dist loadgroup")
    assert request.node.nodeid.endswith("@suite-self-check"), request.node.nodeid


def _fixture_definitions(root: Path) -> dict[str, list[str]]:
    """Every fixture function under `root` by name: where it is defined."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
                found.setdefault(node.name, []).append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_each_grouped_fixture_name_has_one_definition() -> None:
    """HEAVY_FIXTURES groups tests by the names of the fixtures they ask for: a fixture of the
    same name elsewhere would send its tests to that group (and serialise them behind its build)
    without any message, as a module's own `con` once sent a whole `recon run` there."""
    definitions = _fixture_definitions(Path(__file__).parent)
    shared = {name: definitions.get(name, []) for name in HEAVY_FIXTURES if len(definitions.get(name, [])) != 1}
    assert shared == {}
