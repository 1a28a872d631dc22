"""The house SQL style (lower case, 4-space indents, trailing commas, explicit `as`, explicit
join types) is enforced by sqlfluff (.sqlfluff), not by review: on the models with the dbt
templater, on the checks' SQL (checks/sql/) with the jinja templater."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import PROJECT_DIR

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_models_pass_sqlfluff(tmp_path: Path) -> None:
    """`sqlfluff lint models` finds nothing. The dbt templater compiles the models, and
    `to_minor_units` reads the seed `currencies` while compiling: the seeds are loaded into a
    scratch DuckDB file first. dbt's artifacts go to a scratch target path too."""
    env = {
        **os.environ,
        "RECON_WAREHOUSE": str(tmp_path / "lint.duckdb"),
        "RECON_TARGET": "duckdb",
        "RECON_SCHEMA_PREFIX": "",
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DO_NOT_TRACK": "1",
    }
    subprocess.run(
        [str(BIN / "dbt"), "seed", "--quiet"], cwd=PROJECT_DIR, env=env, check=True, timeout=300
    )
    done = subprocess.run(
        [str(BIN / "sqlfluff"), "lint", "models", "--processes", "2", "--format", "json", "--nofail"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    files = json.loads(done.stdout)
    assert len(files) >= 40, f"sqlfluff linted only {len(files)} files"
    violations = [
        f"{f['filepath']}:{v.get('start_line_no')}: {v['code']} {v['description']}"
        for f in files
        for v in f["violations"]
    ]
    assert not violations, "sqlfluff (fix with `sqlfluff fix <file>`):\n" + "\n".join(violations)


@pytest.mark.slow
def test_checks_sql_passes_sqlfluff() -> None:
    """`sqlfluff lint checks/sql` finds nothing: the checks' SQL (one file a rule) keeps the
    models' style. `recon check` renders those files with plain Jinja2, not dbt, so sqlfluff
    renders them with its jinja templater and the sample values of checks/sql/.sqlfluff."""
    done = subprocess.run(
        [str(BIN / "sqlfluff"), "lint", "--templater", "jinja", "checks/sql", "--processes", "2",
         "--format", "json", "--nofail"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    files = json.loads(done.stdout)
    linted = {Path(f["filepath"]).name for f in files}
    expected = {path.name for path in (PROJECT_DIR / "checks" / "sql").rglob("*.sql")}
    assert linted == expected, f"sqlfluff left out {sorted(expected - linted)}"
    violations = [
        f"{f['filepath']}:{v.get('start_line_no')}: {v['code']} {v['description']}"
        for f in files
        for v in f["violations"]
    ]
    assert not violations, "sqlfluff (fix with `sqlfluff fix --templater jinja <file>`):\n" + "\n".join(violations)
