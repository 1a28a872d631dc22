"""core.warehouse.Connection: the classifier's and the match scorer's way into either warehouse
behaves the same on DuckDB and on the real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from core.errors import MissingRelationError
from core.settings import Settings, resolve
from core.warehouse import Connection


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    path = tmp_path / "w.duckdb"
    if request.param == "postgres":
        request.getfixturevalue("postgres_database")  # a fresh database, RECON_PG_DATABASE set
    else:
        duckdb.connect(str(path)).close()
    yield resolve(warehouse=str(path), target=request.param, env={})


def test_rows_frames_and_inserts_look_the_same_on_both_targets(settings: Settings) -> None:
    with Connection.open(settings) as con:
        con.execute("create schema if not exists ml")
        con.execute("create table ml.t (id varchar, amount numeric(12, 4), n bigint, seen_at timestamp, ok boolean)")
        at = dt.datetime(2025, 1, 31, 23, 59, 59)
        con.insert("ml.t", ("id", "amount", "n", "seen_at", "ok"), [("a", 1.5, 3, at, True), ("b", None, None, None, None)])
        assert con.rows("select id, n from ml.t where id = ?", ["a"]) == [("a", 3)]
        frame = con.frame("select id, amount, n, seen_at, ok from ml.t order by id")
    assert list(frame["id"]) == ["a", "b"]
    # A numeric is a float on both (DuckDB's .df() gives its decimals as floats; psycopg2 Decimals).
    assert str(frame["amount"].dtype) == "float64" and frame["amount"].iloc[0] == 1.5
    assert frame["seen_at"].iloc[0] == at and bool(frame["ok"].iloc[0])


def test_a_missing_relation_is_one_error_on_both_targets(settings: Settings) -> None:
    with Connection.open(settings) as con:
        with pytest.raises(MissingRelationError):
            con.rows("select * from ml.nothing_here")
        # The connection is still usable after the error (PostgreSQL: no aborted transaction).
        assert con.rows("select 1") == [(1,)]


def test_a_failed_transaction_leaves_nothing_behind(settings: Settings) -> None:
    with Connection.open(settings) as con:
        con.execute("create schema if not exists ml")
        con.execute("create table ml.t (id varchar)")
        with pytest.raises(MissingRelationError), con.transaction():
            con.execute("insert into ml.t values (?)", ["kept?"])
            con.execute("insert into ml.nothing_here values (1)")
        with con.transaction():
            con.execute("insert into ml.t values (?)", ["committed"])
        assert con.rows("select id from ml.t") == [("committed",)]
