"""dbt, invoked in this process through `dbtRunner`: once per step, never once per model."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.cli.main import dbtRunner

from core.errors import ChecksFailedError, ReconError
from core.settings import PROJECT_DIR, Settings

log = logging.getLogger(__name__)


def _partial_parse_keyed_on_the_database_not_the_file() -> None:
    """dbt keeps its parse (target/partial_parse.msgpack) only while the profile's connection
    keys stay the same, and dbt-duckdb counts the file's `path` among them: every warehouse at a
    new path cost a full parse (13.6 s on a lightly loaded 2-core machine; 32-51 s against 4-5 s
    for a partial one at load 10): the first `dbt` of every `recon run` in a new folder, every
    `recon serve` start, and so most of the test suite's worlds. The parse cannot depend on the path: nothing in the project
    reads `target.path`, nothing queries the warehouse while parsing, and what the path does
    decide, the database's name (the file's stem, which dbt writes into every relation), stays a
    key. So `path` is left out of the keys in this process (dbt-duckdb 1.11's
    `_connection_keys`; tests/recon/test_dbt_parse.py fails if an upgrade changes either)."""
    keys = DuckDBCredentials._connection_keys
    if getattr(keys, "recon_without_path", False):
        return

    def without_path(self: DuckDBCredentials) -> tuple[str, ...]:
        return tuple(key for key in keys(self) if key != "path")

    without_path.recon_without_path = True  # type: ignore[attr-defined]
    DuckDBCredentials._connection_keys = without_path


_partial_parse_keyed_on_the_database_not_the_file()


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    cwd = Path.cwd()
    try:
        os.chdir(PROJECT_DIR)
        yield
    finally:
        os.chdir(cwd)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment dbt's profile reads for these settings (profiles.yml)."""
    return {
        "RECON_WAREHOUSE": str(settings.warehouse),
        "RECON_TARGET": settings.target,
        "DO_NOT_TRACK": "1",
        # read by int_match_pairs_scored: the rules alone, no scored matching
        "RECON_RULES_ONLY": "1" if settings.rules_only else "0",
    }


def parse_manifest(env: Mapping[str, str] | None = None) -> Any:
    """The project's parsed manifest, for a process that runs dbt many times (`recon serve`):
    passed back to `run_dbt`, it saves the parse (seconds) on every later invocation."""
    with _environment({"DO_NOT_TRACK": "1", **(env or {})}):
        result = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(PROJECT_DIR)])
    if not result.success:
        raise ReconError(f"dbt could not parse the project: {result.exception}")
    return result.result


def run_dbt(
    args: Sequence[str], env: Mapping[str, str] | None = None, *, quiet: bool = True, manifest: Any = None
) -> Any:
    """Runs one dbt command (`["build"]`, `["build", "--select", "marts"]`, ...) in the project.

    Returns dbt's result object (`.success`, `.result`); raises ChecksFailedError naming the
    failed nodes when dbt ran but something failed or errored. `manifest` (from
    `parse_manifest`) skips parsing. dbt-duckdb's database handle is closed when dbt returns.
    """
    argv = [*args, "--project-dir", str(PROJECT_DIR)]
    if quiet:
        argv.append("--quiet")
    with _environment({"DO_NOT_TRACK": "1", **(env or {})}):
        try:
            result = dbtRunner(manifest=manifest).invoke(argv)
        finally:
            release_duckdb()  # dbt leaves nothing open: the next writer may be another process
    if not result.success:
        failed: list[str] = []
        errored: list[str] = []
        for node_result in getattr(result.result, "results", None) or []:
            status = str(getattr(node_result, "status", ""))
            if status == "fail":
                failed.append(f"{node_result.node.name}: {node_result.message}")
            elif status == "error":
                errored.append(f"{node_result.node.name}: {node_result.message}")
        if errored or not failed:
            # A model that cannot build, or dbt itself failing, is a run that could not run.
            detail = "; ".join(errored) or str(result.exception)
            raise ReconError(f"dbt {' '.join(args)} could not run: {detail}")
        # Every model built but a data test failed: the run found breaks.
        raise ChecksFailedError(f"dbt {' '.join(args)}: {len(failed)} test(s) failed: {'; '.join(failed)}")
    return result


def release_duckdb() -> None:
    """Let go of dbt-duckdb's database handle, which it keeps open in the process after a run,
    so that another process (`recon serve`, a BI tool) can open the file."""
    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        try:
            environment.close()
        finally:
            DuckDBConnectionManager._ENV = None


def describe(result: Any) -> str:
    """One line: how many nodes of each kind passed, from dbt's run results."""
    kinds: dict[str, int] = {}
    elapsed = float(getattr(result.result, "elapsed_time", 0.0) or 0.0)
    for node_result in getattr(result.result, "results", None) or []:
        kind = str(getattr(node_result.node, "resource_type", "node"))
        kinds[kind] = kinds.get(kind, 0) + 1
    parts = ", ".join(f"{count} {kind}{'s' if count != 1 else ''}" for kind, count in sorted(kinds.items()))
    return f"dbt build: {parts} passed in {elapsed:.1f} s"
