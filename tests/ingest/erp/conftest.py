"""Fixtures of the ERP and decisions load tests: small books with every kind of bad row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from erp_books import BOOKS, MakeSettings, write_csv

import recon  # noqa: F401  - telemetry off before dlt starts
from core.settings import Settings, resolve


@pytest.fixture
def erp_dir(tmp_path: Path) -> Path:
    """A folder holding BOOKS as CSV files."""
    folder = tmp_path / "erp"
    folder.mkdir()
    for name, table in BOOKS.items():
        write_csv(folder / f"{name}.csv", table)
    return folder


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    """Settings with a DuckDB warehouse in tmp_path, and the given options."""

    def make(**options: str) -> Settings:
        options.setdefault("warehouse", str(tmp_path / "warehouse" / "recon.duckdb"))
        return resolve(env={}, **options)

    return make


@pytest.fixture
def pipelines_dir(tmp_path: Path) -> Path:
    return tmp_path / "pipelines"


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A fresh schema in the `test` database: (its name, a URL whose search_path is the schema)."""
    import psycopg2

    name = f"recon_erp_{uuid.uuid4().hex[:10]}"
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(f"create schema {name}")
    yield name, f"{postgres_url}?options=-csearch_path%3D{name}"
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        # A reader whose rows were never consumed (a file refused early) can leave its
        # connection idle in a transaction until it is garbage-collected: end those, and never
        # wait on a lock for ever.
        cursor.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = current_database() and pid <> pg_backend_pid() "
            "and state like 'idle in transaction%%'"
        )
        cursor.execute("set lock_timeout = '30s'")
        cursor.execute(f"drop schema if exists {name} cascade")
    connection.close()
