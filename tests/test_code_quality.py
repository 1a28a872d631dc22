"""The house style is enforced by tools, not by review: ruff and mypy run with the tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from core.settings import PROJECT_DIR

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_finds_nothing() -> None:
    result = _run(str(BIN / "ruff"), "check", "core", "recon", "ingest", "ml", "checks", "demoworld", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_repository_cites_only_itself() -> None:
    """Comments and docs point to the repository's own docs/contract.md and docs/style.md, not to
    the upper-case originals kept outside it: a user's clone does not have them."""
    tracked = _run("git", "ls-files").stdout.split()
    if not tracked:  # not a git checkout (an sdist): nothing to read
        return
    offenders = []
    for name in tracked:
        path = PROJECT_DIR / name
        if name == "tests/test_code_quality.py" or not path.is_file() or path.suffix not in {".py", ".sql", ".yml", ".yaml", ".md", ".toml", ".cfg", ""}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if "CONTRACT.md" in line or "STYLE.md" in line:
                offenders.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not offenders, "cite docs/contract.md or docs/style.md instead:\n" + "\n".join(offenders)


def _readme_layout() -> str:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Repository layout", 1)[1]
    return section.split("```", 2)[1]


def test_the_readme_layout_matches_the_tree() -> None:
    """Every path the README's layout names exists, and every folder of the repository and every
    Python package is named there (a new package cannot land unexplained)."""
    layout = _readme_layout()
    named: set[str] = set()
    for line in layout.splitlines():
        names, description = (*re.split(r" {3,}", line.strip(), maxsplit=1), "")[:2]
        named.update(token for token in names.split() if "/" in token or "." in token)
        # paths in the description too (`recon/serve/: the webhook service`)
        named.update(token.strip("`:,()") for token in description.split() if token.strip("`:,()").endswith("/"))
    missing = sorted(name for name in named if not (PROJECT_DIR / name).exists())
    assert not missing, f"the README's layout names what is not there: {missing}"
    tracked = _run("git", "ls-files").stdout.split()
    if not tracked:
        return
    folders = {name.split("/")[0] + "/" for name in tracked if "/" in name and not name.startswith(".")}
    packages = {
        str(Path(name).parent) + "/"
        for name in tracked
        if name.endswith("__init__.py") and not name.startswith(("tests/", "benchmarks/"))
    }
    unnamed = sorted(
        folder for folder in folders | packages if not any(n == folder or n.startswith(folder) for n in named)
    )
    assert not unnamed, f"the README's layout does not say what these are: {unnamed}"
