"""dbt, invoked in this process through `dbtRunner`: once per step, never once per model."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recon.errors import ChecksFailedError
from recon.settings import PROJECT_DIR, Settings

log = logging.getLogger(__name__)


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
    return {"RECON_WAREHOUSE": str(settings.warehouse), "RECON_TARGET": settings.target, "DO_NOT_TRACK": "1"}


def run_dbt(args: Sequence[str], env: Mapping[str, str] | None = None, *, quiet: bool = True) -> Any:
    """Runs one dbt command (`["build"]`, `["build", "--select", "marts"]`, ...) in the project.

    Returns dbt's result object (`.success`, `.result`); raises ChecksFailedError naming the
    failed nodes when dbt ran but something failed or errored.
    """
    from dbt.cli.main import dbtRunner

    argv = [*args, "--project-dir", str(PROJECT_DIR)]
    if quiet:
        argv.append("--quiet")
    with _environment({"DO_NOT_TRACK": "1", **(env or {})}):
        result = dbtRunner().invoke(argv)
    if not result.success:
        failed = []
        for node_result in getattr(result.result, "results", None) or []:
            if str(getattr(node_result, "status", "")) in ("error", "fail"):
                failed.append(f"{node_result.node.name}: {node_result.message}")
        detail = "; ".join(failed) or str(result.exception)
        raise ChecksFailedError(f"dbt {' '.join(args)} failed: {detail}")
    return result
