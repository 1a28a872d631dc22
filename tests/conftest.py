"""Fixtures shared by every test package."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import PROJECT_DIR
from core.telemetry import quiet_telemetry

# The tests drive dbt, dlt and Great Expectations in-process, as the `recon` command does.
quiet_telemetry()

# pytest-xdist runs the suite in worker processes (pyproject.toml: -n). dbt writes its manifest and
# partial parse under target/ and its log under logs/: each worker gets folders of its own.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    os.environ.setdefault("DBT_TARGET_PATH", str(PROJECT_DIR / "target" / "pytest" / WORKER))
    os.environ.setdefault("DBT_LOG_PATH", str(PROJECT_DIR / "logs" / "pytest" / WORKER))
    # The checks' Data Docs (checks.validate), which every `recon run` of a test rebuilds.
    os.environ.setdefault("RECON_REPORT_DIR", str(PROJECT_DIR / "reports" / "pytest" / WORKER / "data_docs"))

# Tests that share an expensive session fixture they change or hold open run in one worker, as
# one group (`--dist loadgroup`): the fixture is built once, not once a worker. Every other test
# goes to whichever worker is free; fixtures they only copy are built once for all workers
# (`built_once`). A long group ends the run alone: keep groups to what cannot be shared.
HEAVY_FIXTURES = {
    "built": "dbt-build-of-demo-run",  # tests/models: a dbt build on the demo run's copy
    "con": "dbt-build-of-demo-run",
    "loaded_world": "dbt-build-of-demo-run",
    "ml_warehouse": "ml-warehouse",
    "review_world": "review-world",  # the review app reads the world's warehouse itself
    "two_targets": "two-targets",  # a world run on DuckDB and on PostgreSQL (tests/recon/conftest.py)
    # Module fixtures worth building once, not once a worker:
    "defects_built": "data-quality-defects",  # tests/models/test_data_quality.py: a load and dbt build
    "compiled": "cross-target-sql",  # tests/models/test_cross_target_sql.py: dbt compiles on both targets
    "first_load": "stripe-first-load",  # tests/ingest/stripe/test_stripe_source.py: a whole API load
    # One JVM: every Spark test in the worker that started it, which is the two-target world's
    # (tests/recon/test_spark.py runs that world on Spark and compares it with its DuckDB run).
    "spark_session": "two-targets",
    "spark_run": "two-targets",
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the marks into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        names = getattr(item, "fixturenames", ())
        group = next((HEAVY_FIXTURES[name] for name in names if name in HEAVY_FIXTURES), None)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that `build` fills once for the whole run, shared by the xdist workers: the first
    worker to ask builds it under a file lock, the others wait for it and read it. Nothing may
    change what is in it (copy first)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if WORKER else base  # the workers' base folders share one parent
    folder = root / f"shared-{name}"
    with (root / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / ".built").exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                build(folder)
                (folder / ".built").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


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


def _spark_required() -> bool:
    """RECON_REQUIRE_SPARK=1 (.ci/run) makes a missing Java or pyspark fail the Spark tests."""
    return os.environ.get("RECON_REQUIRE_SPARK") == "1"


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The test session's one local SparkSession (a JVM starts once), its catalog in a temporary
    folder; every Spark test uses it (core.spark.session returns it). Skips without Java or
    pyspark, unless RECON_REQUIRE_SPARK=1: then it fails."""
    import importlib.util

    from core import spark
    from core.settings import resolve

    missing = None
    if importlib.util.find_spec("pyspark") is None:
        missing = "pyspark is not installed (pip install -e '.[spark]')"
    elif not spark.java_available():
        missing = "no Java for Spark (install a JDK 17+ or set JAVA_HOME)"
    if missing:
        if _spark_required():
            pytest.fail(missing + " (required: RECON_REQUIRE_SPARK=1)")
        pytest.skip(missing)
    folder = tmp_path_factory.mktemp("spark")
    session = spark.session(resolve(warehouse=str(folder / "session.duckdb"), target="spark", env={}))
    yield session
    session.stop()


# A small demo world, generated once per test session, for every test that needs one.
SMALL_WORLD_SCALE = 1_500
SMALL_WORLD_SEED = 7


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demoworld.stripe_api import ensure_index
    from demoworld.world import WorldSpec, generate_world

    name = f"seed{SMALL_WORLD_SEED}-scale{SMALL_WORLD_SCALE}"

    def generate(folder: Path) -> None:
        generate_world(WorldSpec(seed=SMALL_WORLD_SEED, scale=SMALL_WORLD_SCALE, months=3), folder / name)
        # The local Stripe API's index in the world (its default place), built here once: no
        # worker rebuilds it under another's feet.
        ensure_index(folder / name)

    return built_once(tmp_path_factory, "small-world", generate) / name


# The demo world through the whole pipeline (the real local Stripe API, ingestion, dbt build, the
# match scorer, the classifier, the checks), once per test session: the dbt project's tests and
# the classifier's start from it, each on its own copy, so that neither sees what the other changed.
DEMO_RUN_SCALE = 1_500
DEMO_RUN_SEED = 11


@dataclass(frozen=True)
class DemoRun:
    world: Path
    warehouse: Path  # as the run left it: copy it (`copy_to`) before changing anything
    output: Path  # what `recon demo` printed (stdout, then stderr)

    def copy_to(self, target: Path) -> Path:
        """A copy of the run's warehouse (every schema and table) at `target`."""
        import duckdb

        target.parent.mkdir(parents=True, exist_ok=True)
        # Read only, under the file's own name (dbt's views name it): the other xdist workers may
        # be copying it at the same time.
        con = duckdb.connect()
        try:
            con.execute(f"attach '{self.warehouse}' as {self.warehouse.stem} (read_only)")
            con.execute(f"attach '{target}' as warehouse_copy")
            con.execute(f"copy from database {self.warehouse.stem} to warehouse_copy")
        finally:
            con.close()
        return target


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The README's demo command, `recon demo`, in a process of its own as a user runs it (tests/recon/test_cli.py
    reads what it printed)."""

    def run(root: Path) -> None:
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "recon"), "demo", "--scale", str(DEMO_RUN_SCALE),
                "--seed", str(DEMO_RUN_SEED), "--world-dir", str(root / "world"),
                "--warehouse", str(root / "demo_run.duckdb"),
            ],
            capture_output=True, text=True, timeout=1200, check=False, cwd=PROJECT_DIR,
        )
        (root / "demo.out").write_text(done.stdout + done.stderr)
        assert done.returncode == 0, f"recon demo exited {done.returncode}: {done.stdout[-3000:]}{done.stderr[-3000:]}"

    root = built_once(tmp_path_factory, "demo-run", run)
    return DemoRun(root / "world", root / "demo_run.duckdb", root / "demo.out")
