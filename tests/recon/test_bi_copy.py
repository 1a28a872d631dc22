"""The BI copy (recon.bi_copy) on real DuckDB files: what it holds, and how it is replaced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from core.settings import Settings, resolve
from recon.bi_copy import bi_copy_path, publish_bi_copy


def _warehouse(path: Path, matches: int) -> Settings:
    """A warehouse with a raw schema, two mart tables and a mart view over the raw schema."""
    connection = duckdb.connect(str(path))
    try:
        connection.execute("create schema if not exists raw_stripe")
        connection.execute(
            "create or replace table raw_stripe.charges as select 'ch_' || range as id from range(5)"
        )
        connection.execute("create schema if not exists marts")
        connection.execute(
            "create or replace table marts.fct_reconciliation_matches as "
            f"select 'ch_' || range as stripe_object_id, 'usd' as currency, range::bigint * 100 as "
            f"stripe_amount_minor from range({matches})"
        )
        connection.execute("create or replace table marts.rpt_data_quality_issues (issue varchar)")
        connection.execute(
            "create or replace view marts.charges_seen as select count(*) as charges from raw_stripe.charges"
        )
    finally:
        connection.close()
    return resolve(warehouse=str(path), target="duckdb", env={})


def _read(path: Path, query: str) -> list[tuple[object, ...]]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def test_the_copy_holds_the_marts_as_tables_and_when_they_were_published(tmp_path: Path) -> None:
    settings = _warehouse(tmp_path / "books.duckdb", matches=3)

    publication = publish_bi_copy(settings, published_by="a test", webhook_batch_id=7)

    assert publication is not None and publication.path == tmp_path / "books.bi.duckdb"
    assert publication.relations == 3
    tables = _read(
        publication.path,
        "select table_schema, table_name, table_type from information_schema.tables order by all",
    )
    assert tables == [
        (
            "marts",
            "charges_seen",
            "BASE TABLE",
        ),  # a view, materialized: its sources are not in the copy
        ("marts", "fct_reconciliation_matches", "BASE TABLE"),
        ("marts", "rpt_data_quality_issues", "BASE TABLE"),
        ("recon_meta", "publication", "BASE TABLE"),
    ]
    assert _read(publication.path, "select * from marts.charges_seen") == [(5,)]
    assert _read(
        publication.path,
        "select data_type from information_schema.columns where column_name = 'stripe_amount_minor'",
    ) == [("BIGINT",)]  # money stays integer minor units
    assert _read(
        publication.path, "select published_by, webhook_batch_id from recon_meta.publication"
    ) == [("a test", 7)]
    assert sorted(name.name for name in tmp_path.iterdir()) == [
        "books.bi.duckdb",
        "books.duckdb",
    ]  # no temporary file, no .wal beside the copy


def test_a_reader_keeps_the_copy_it_opened_and_a_new_connection_gets_the_new_one(
    tmp_path: Path,
) -> None:
    settings = _warehouse(tmp_path / "books.duckdb", matches=3)
    publish_bi_copy(settings, published_by="first")
    path = bi_copy_path(settings)
    held = duckdb.connect(str(path), read_only=True)
    try:
        inode = os.stat(path).st_ino
        _warehouse(settings.warehouse, matches=10)

        publish_bi_copy(settings, published_by="second")

        assert os.stat(path).st_ino != inode  # replaced, not written in place
        assert held.execute("select count(*) from marts.fct_reconciliation_matches").fetchall() == [
            (3,)
        ]
        # Another process (a BI tool connecting now) reads the new copy while the old one is open.
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True)"
                ".execute('select count(*) from marts.fct_reconciliation_matches').fetchone()[0])",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert other.stdout.strip() == "10"
    finally:
        held.close()
    assert _read(path, "select published_by from recon_meta.publication") == [("second",)]


def test_the_copy_goes_where_the_setting_says(tmp_path: Path) -> None:
    """--bi-copy / RECON_BI_COPY: BI's file anywhere, its folder created; nothing beside the warehouse."""
    _warehouse(tmp_path / "books.duckdb", matches=2)
    configured = tmp_path / "shared" / "finance" / "recon-marts.duckdb"
    settings = resolve(warehouse=str(tmp_path / "books.duckdb"), target="duckdb", env={"RECON_BI_COPY": str(configured)})

    publication = publish_bi_copy(settings, published_by="a test")

    assert publication is not None and publication.path == bi_copy_path(settings) == configured
    assert _read(configured, "select count(*) from marts.fct_reconciliation_matches") == [(2,)]
    assert sorted(name.name for name in tmp_path.iterdir()) == ["books.duckdb", "shared"]
    assert [name.name for name in configured.parent.iterdir()] == ["recon-marts.duckdb"]


def test_a_temporary_file_left_by_a_publisher_that_died_is_removed(tmp_path: Path) -> None:
    settings = _warehouse(tmp_path / "books.duckdb", matches=1)
    left = tmp_path / ".books.bi.duckdb.4242.tmp"
    left.write_bytes(b"half a database")

    publish_bi_copy(settings, published_by="a test")

    assert not left.exists() and bi_copy_path(settings).exists()


def test_nothing_is_published_before_the_marts_are_built(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    settings = resolve(warehouse=str(path), target="duckdb", env={})

    assert publish_bi_copy(settings, published_by="a test") is None
    assert not bi_copy_path(settings).exists()


def test_postgres_needs_no_copy(tmp_path: Path) -> None:
    """Readers never block the writer on PostgreSQL: BI reads schema marts there."""
    settings = resolve(warehouse=str(tmp_path / "pg.duckdb"), target="postgres", env={})

    assert publish_bi_copy(settings, published_by="a test") is None
    assert list(tmp_path.iterdir()) == []
