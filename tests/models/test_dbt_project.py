"""The repository is a plain dbt project: `dbt build` from the root works on both targets."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from recon.settings import PROJECT_DIR


def _dbt(args: list[str], env: dict[str, str]) -> object:
    from dbt.cli.main import dbtRunner

    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    cwd = Path.cwd()
    try:
        os.chdir(PROJECT_DIR)
        return dbtRunner().invoke([*args, "--project-dir", str(PROJECT_DIR), "--quiet"])
    finally:
        os.chdir(cwd)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_dbt_build_on_duckdb(tmp_path: Path) -> None:
    warehouse = tmp_path / "recon.duckdb"
    result = _dbt(["build"], {"RECON_WAREHOUSE": str(warehouse), "RECON_TARGET": "duckdb"})
    assert getattr(result, "success", False), getattr(result, "exception", None)

    import duckdb

    # dbt-duckdb keeps its connection open in this process: open the file the same way.
    with duckdb.connect(str(warehouse)) as con:
        rows = dict(con.sql("select currency, exponent from seeds.currencies").fetchall())
    assert rows["jpy"] == 0 and rows["usd"] == 2 and rows["kwd"] == 3


@pytest.fixture
def pg_schema_prefix(postgres_url: str) -> Iterator[str]:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    yield prefix
    import psycopg2

    with psycopg2.connect(postgres_url) as con, con.cursor() as cur:
        cur.execute(
            "select schema_name from information_schema.schemata where schema_name like %s",
            (prefix + "%",),
        )
        for (schema,) in cur.fetchall():
            cur.execute(f'drop schema "{schema}" cascade')


@pytest.mark.postgres
def test_dbt_build_on_postgres(pg_schema_prefix: str) -> None:
    result = _dbt(["build", "--target", "postgres"], {"RECON_SCHEMA_PREFIX": pg_schema_prefix})
    assert getattr(result, "success", False), getattr(result, "exception", None)
