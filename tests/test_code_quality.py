"""The house style is enforced by tools, not by review: ruff and mypy run with the tests."""

from __future__ import annotations

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
