"""One small messy world run through the whole pipeline on both targets, once per session.

tests/recon/test_targets_agree.py compares the two warehouses' marts; tests/recon/test_spark.py
runs the same world on Spark and compares it with the DuckDB one; the review page's
PostgreSQL test (tests/recon/review/test_review_postgres.py) serves the page on the PostgreSQL
one and compares its reads with the DuckDB one's. Both read, neither changes them (copy first).
The PostgreSQL warehouse is a database of its own, dropped at the end of the session; while a
test reads it, RECON_PG_DATABASE must name it (`TwoTargets.use_postgres`).

Both runs apply the same auto-accept policy from the review's policy log (recon.review.policy):
every exception in USD waits for a person, so the review page has a queue of each kind, and
the policy's macro is compared on both targets with the rest.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from core.settings import Settings, resolve
from core.vocabulary import EXCEPTION_TYPES
from demoworld.mess import MESSY
from demoworld.world import WorldSpec, generate_world
from recon.demo.run import serving
from recon.pipeline import run_steps
from recon.review.store import DecisionStore, default_store_path

TARGETS_WORLD = WorldSpec(seed=16, scale=300, months=6, mess=MESSY)


@dataclass(frozen=True)
class TwoTargets:
    world: Path
    folder: Path
    database: str  # the PostgreSQL warehouse's database
    url: str  # a psycopg2 URL of it
    outputs: dict[str, str]  # target -> what `recon run` printed

    def settings(self, target: str) -> Settings:
        """The run's settings for `target` (on PostgreSQL, with RECON_PG_DATABASE set to `database`)."""
        return resolve(warehouse=str(self.folder / f"{target}.duckdb"), target=target, env={})

    def use_postgres(self, monkeypatch: pytest.MonkeyPatch) -> Settings:
        monkeypatch.setenv("RECON_PG_DATABASE", self.database)
        return self.settings("postgres")


def usd_waits_for_a_person(settings: Settings) -> None:
    """The review policy of the two-target world's runs, in the decisions store of `settings`'
    warehouse: every exception in USD waits for a person (tests/recon/test_spark.py's run too)."""
    with DecisionStore(default_store_path(settings)) as store:
        for exception_type in EXCEPTION_TYPES:
            store.change_policy("exception", exception_type, "usd", min_confidence="1",
                                max_amount_minor=0, who="adam", role="admin")


@pytest.fixture(scope="session")
def two_targets(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[TwoTargets]:
    folder = tmp_path_factory.mktemp("targets")
    world = folder / "world"
    generate_world(TARGETS_WORLD, world)
    database = f"recon_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"create database {database}")
    targets = TwoTargets(world, folder, database, postgres_url.rsplit("/", 1)[0] + f"/{database}", {})
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.setenv("RECON_PG_DATABASE", database)
            for target in ("duckdb", "postgres"):
                usd_waits_for_a_person(targets.settings(target))
                out = io.StringIO()
                with serving(world, targets.settings(target)) as run_settings:
                    run_steps(run_settings, out)
                targets.outputs[target] = out.getvalue()
        yield targets
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {database} with (force)")
        admin.close()
