"""The Python runs one way, as the dbt project does (README, "Layout"):

    core                          errors, settings, vocabulary, currencies, the warehouse's connections
    ingest   checks   ml          each imports only core (and itself)
    recon                         the command line, the pipeline, serve, the demo command
    demoworld                     the simulator, beside them: imports only core; only recon.demo imports it

This test reads every module's imports (those inside functions too) with `ast` and fails on an
arrow that runs the wrong way, on a cycle between modules, on a private name taken from another
module, and on an import inside a function that does not say it is there for start-up time.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.settings import PROJECT_DIR

# A package's layer: a module may import a lower layer or its own package, nothing else.
LAYERS: dict[str, int] = {"core": 0, "ingest": 1, "checks": 1, "ml": 1, "demoworld": 1, "recon": 2}
# Packages only some modules may import (besides the package itself, the tests and benchmarks).
GATED: dict[str, tuple[str, ...]] = {"demoworld": ("recon.demo",)}
START_UP_NOTE = "start-up time"


@dataclass(frozen=True)
class Arrow:
    source: str  # the importing module
    target: str  # the imported module (a submodule when `from package import submodule`)
    names: tuple[str, ...]
    line: int
    in_function: bool
    noted: bool  # a start-up-time comment on the line or just above it

    def where(self, root: Path) -> str:
        return f"{self.source} (line {self.line}) -> {self.target}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in LAYERS:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def _functions_lines(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    inside.add(sub.lineno)
    return inside


def arrows(root: Path) -> Iterator[Arrow]:
    """Every import of one of our packages, by any module of them."""
    known = modules(root)
    for source, path in known.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        in_function = _functions_lines(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [(alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = tuple(alias.name for alias in node.names)
                # `from package import submodule` is an arrow to the submodule.
                subs = [f"{node.module}.{name}" for name in names if f"{node.module}.{name}" in known]
                targets = [(sub, ()) for sub in subs] if subs else [(node.module, names)]
            else:
                continue
            window = "\n".join(lines[max(0, node.lineno - 4) : node.lineno])
            for target, names in targets:
                if target.split(".")[0] not in LAYERS:
                    continue
                yield Arrow(
                    source=source,
                    target=target,
                    names=names,
                    line=node.lineno,
                    in_function=node.lineno in in_function,
                    noted=START_UP_NOTE in window.lower(),
                )


def wrong_way(root: Path) -> list[str]:
    """Arrows against the layers, into a gated package, or to another module's private names."""
    problems: list[str] = []
    for arrow in arrows(root):
        source_package, target_package = arrow.source.split(".")[0], arrow.target.split(".")[0]
        if source_package != target_package:
            if LAYERS[target_package] >= LAYERS[source_package]:
                problems.append(f"{arrow.where(root)}: {source_package} may not import {target_package}")
            gate = GATED.get(target_package)
            if gate and not any(arrow.source == g or arrow.source.startswith(g + ".") for g in gate):
                problems.append(f"{arrow.where(root)}: only {', '.join(gate)} imports {target_package}")
        private = [name for name in arrow.names if name.startswith("_") and not name.startswith("__")]
        if private and arrow.target != arrow.source:
            problems.append(f"{arrow.where(root)}: private {', '.join(private)} of another module")
    return problems


def cycles(root: Path) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's SCC)."""
    graph: dict[str, set[str]] = {name: set() for name in modules(root)}
    for arrow in arrows(root):
        target = arrow.target
        while target not in graph and "." in target:
            target = target.rsplit(".", 1)[0]
        if target in graph and target != arrow.source:
            graph[arrow.source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def unexplained_local_imports(root: Path) -> list[str]:
    """Imports inside functions, of any module, without a start-up-time comment."""
    problems: list[str] = []
    for source, path in modules(root).items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        for line in sorted(_functions_lines(tree)):
            window = "\n".join(lines[max(0, line - 4) : line])
            if START_UP_NOTE not in window.lower():
                problems.append(f"{source} (line {line}): {lines[line - 1].strip()}")
    return problems


def test_imports_run_one_way() -> None:
    problems = wrong_way(PROJECT_DIR)
    assert not problems, "imports against the layers (see this file's doc):\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    assert cycles(PROJECT_DIR) == []


def test_imports_inside_functions_say_why() -> None:
    problems = unexplained_local_imports(PROJECT_DIR)
    assert not problems, (
        f"imports inside functions: move them to the top, or say `# {START_UP_NOTE}` and why:\n"
        + "\n".join(problems)
    )


def test_the_walker_sees_a_wrong_arrow(tmp_path: Path) -> None:
    """The checks above can fail: a lower layer importing the top, a cycle, a private name, an
    unexplained import in a function and a service importing the simulator are all reported."""
    for package in LAYERS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "core" / "errors.py").write_text("from recon import cli\n")
    (tmp_path / "recon" / "cli.py").write_text("from core.errors import _Hidden\n")
    (tmp_path / "recon" / "serve.py").write_text("import demoworld\n")
    (tmp_path / "ml" / "fit.py").write_text("def fit():\n    import checks\n")
    problems = "\n".join(wrong_way(tmp_path))
    assert "core.errors (line 1) -> recon.cli: core may not import recon" in problems
    assert "private _Hidden" in problems
    assert "only recon.demo imports demoworld" in problems
    assert "ml may not import checks" in problems
    assert cycles(tmp_path) == [["core.errors", "recon.cli"]]
    assert unexplained_local_imports(tmp_path) == ["ml.fit (line 2): import checks"]


def test_importing_a_module_leaves_the_environment_alone() -> None:
    """Importing the lower layers (as a library user or an orchestrator does) changes no
    environment variable: the `recon` command turns telemetry off itself (core.telemetry)."""
    probe = (
        "import os, json; before = dict(os.environ)\n"
        "import core.settings, core.warehouse, core.currencies, ingest.erp, ingest.decisions, "
        "ingest.stripe.load, checks, recon.cli\n"
        "print(json.dumps(sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DO_NOT_TRACK", "GX_ANALYTICS_ENABLED")}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
