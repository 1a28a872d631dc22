"""Fixtures shared by every test package."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.telemetry import quiet_telemetry

# The tests drive dbt, dlt and Great Expectations in-process, as the `recon` command does.
quiet_telemetry()


def _postgres_required() -> bool:
    """In CI (or when asked) a missing PostgreSQL server fails the tests instead of skipping them."""
    return (
        os.environ.get("CI", "").lower() in ("true", "1")
        or os.environ.get("RECON_REQUIRE_POSTGRES") == "1"
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of the PostgreSQL server's `test` database (RECON_PG_* variables).

    Skips the test when the server cannot be reached, unless CI is "true"/"1" or
    RECON_REQUIRE_POSTGRES=1: then it fails, so nothing hides in CI.
    """
    import psycopg2

    host = os.environ.get("RECON_PG_HOST") or "127.0.0.1"
    port = os.environ.get("RECON_PG_PORT") or "5432"
    user = os.environ.get("RECON_PG_USER") or "postgres"
    database = os.environ.get("RECON_PG_DATABASE") or "test"
    password = os.environ.get("DBT_ENV_SECRET_RECON_PG_PASSWORD") or None
    try:
        psycopg2.connect(
            host=host, port=port, user=user, dbname=database, password=password, connect_timeout=3
        ).close()
    except psycopg2.OperationalError as error:
        reason = f"PostgreSQL at {host}:{port}/{database} unreachable: {str(error).strip()}"
        if _postgres_required():
            pytest.fail(reason + " (required: CI or RECON_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    auth = f"{user}:{password}" if password else user
    yield f"postgresql://{auth}@{host}:{port}/{database}"


@pytest.fixture
def postgres_database(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database the PostgreSQL warehouse target points at (RECON_PG_DATABASE), dropped after."""
    import psycopg2

    name = f"recon_test_{uuid.uuid4().hex[:10]}"
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"create database {name}")
    monkeypatch.setenv("RECON_PG_DATABASE", name)
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"drop database if exists {name} with (force)")
    connection.close()


# A small demo world, generated once per test session, for every test that needs one.
SMALL_WORLD_SCALE = 1_500
SMALL_WORLD_SEED = 7


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demoworld.world import WorldSpec, generate_world

    out = tmp_path_factory.mktemp("world") / f"seed{SMALL_WORLD_SEED}-scale{SMALL_WORLD_SCALE}"
    generate_world(WorldSpec(seed=SMALL_WORLD_SEED, scale=SMALL_WORLD_SCALE, months=3), out)
    return out


# The demo world through the whole pipeline (the real local Stripe API, ingestion, dbt build, the
# match scorer, the classifier, the checks), once per test session: the dbt project's tests and
# the classifier's start from it, each on its own copy, so that neither sees what the other changed.
DEMO_RUN_SCALE = 1_500
DEMO_RUN_SEED = 11


@dataclass(frozen=True)
class DemoRun:
    world: Path
    warehouse: Path  # as the run left it: copy it (`copy_to`) before changing anything

    def copy_to(self, target: Path) -> Path:
        """A copy of the run's warehouse (every schema and table) at `target`."""
        import duckdb

        target.parent.mkdir(parents=True, exist_ok=True)
        # dbt-duckdb may hold the file open in this process: open it the same way, attach the copy.
        con = duckdb.connect(str(self.warehouse))
        try:
            con.execute(f"attach '{target}' as warehouse_copy")
            con.execute(f"copy from database {self.warehouse.stem} to warehouse_copy")
            con.execute("detach warehouse_copy")
        finally:
            con.close()
        return target


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    from core.settings import resolve
    from recon.demo.run import run_demo

    root = tmp_path_factory.mktemp("demo-run")
    world, warehouse = root / "world", root / "demo_run.duckdb"
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    run_demo(
        settings, scale=DEMO_RUN_SCALE, seed=DEMO_RUN_SEED, world_dir=str(world), port=0,
        serve=False, out=io.StringIO(), fresh_warehouse=False,
    )
    return DemoRun(world, warehouse)
