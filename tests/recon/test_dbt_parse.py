"""dbt's partial parse survives a warehouse at another path (recon.dbt): a new folder costs a
partial parse, not a full one; the database's name (the file's stem) stays a key of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.cli.main import dbtRunner

from core.settings import PROJECT_DIR, resolve
from recon.dbt import _environment, settings_env


def _parse(warehouse: Path, target_path: Path) -> list[tuple[str, str]]:
    """`dbt parse` for a warehouse at `warehouse`: the partial-parse events dbt fired."""
    events: list[tuple[str, str]] = []

    def listen(message: Any) -> None:
        name = message.info.name
        if "PartialPars" in name:
            events.append((name, str(getattr(message.data, "reason", ""))))

    env = {**settings_env(resolve(warehouse=str(warehouse), target="duckdb", env={})), "DBT_TARGET_PATH": str(target_path)}
    with _environment(env):
        result = dbtRunner(callbacks=[listen]).invoke(["parse", "--quiet", "--project-dir", str(PROJECT_DIR)])
    assert result.success, result.exception
    return events


def test_the_file_path_is_not_a_key_of_the_parse_and_the_database_is() -> None:
    credentials = DuckDBCredentials(database="recon", schema="main", path="/somewhere/recon.duckdb")
    keys = dict(credentials.connection_info())
    assert "path" not in keys and keys["database"] == "recon"


def test_a_warehouse_in_another_folder_reuses_the_parse(tmp_path: Path) -> None:
    target = tmp_path / "target"
    first = _parse(tmp_path / "a" / "recon.duckdb", target)
    assert ("PartialParsingSkipParsing", "") not in first  # nothing to reuse yet: a full parse
    again = _parse(tmp_path / "b" / "recon.duckdb", target)
    assert not [event for event in again if event[0] == "UnableToPartialParse"], again
    assert ("PartialParsingSkipParsing", "") in again
