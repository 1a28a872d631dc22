"""One world, two targets, one answer: `recon run` on DuckDB and on PostgreSQL gives the same marts.

A small messy demo world (accents, typos and missing references in the books, so the name keys,
the fuzzy similarity, the match scorer and the classifier all have work) runs through the whole
pipeline once into a DuckDB file and once into a fresh PostgreSQL database. The four marts are
then compared row for row, every column (ids, amounts, currencies, statuses, types, rules,
confidences, evidence) but the few EXCLUDED names for a stated reason: any other difference is a
bug (DECISIONLOG.md, "Every step on every target").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import duckdb
import psycopg2
import pytest

from tests.recon.conftest import TwoTargets

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MARTS = (
    "fct_reconciliation_matches",
    "fct_reconciliation_exceptions",
    "rpt_payout_reconciliation",
    "rpt_payout_invoices",
    "fct_bank_exceptions",
)
# Every column is compared but those named here, each with the reason it may differ without the
# answer differing (none so far: even the classifier's model_version, a digest of its training
# examples, is the same on both).
EXCLUDED: dict[str, tuple[str, ...]] = {}


def _columns_of(con: duckdb.DuckDBPyConnection, mart: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ? "
        "order by ordinal_position",
        [mart],
    ).fetchall()
    return [str(row[0]) for row in rows]


def _normal(value: Any) -> Any:
    """A value as both drivers would give it: numerics to a fixed precision, floats the same."""
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    return value


def _sorted(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    normal = [tuple(_normal(v) for v in row) for row in rows]
    return sorted(normal, key=lambda row: tuple((v is None, str(v)) for v in row))


def test_duckdb_and_postgres_give_the_same_marts(two_targets: TwoTargets) -> None:
    # The world's two runs are the session's (tests/recon/conftest.py), shared with the review
    # page's PostgreSQL test. Every step ran on both, the classifier and the balance checks too.
    for target, text in two_targets.outputs.items():
        assert "== classify: done" in text and "(trained;" in text, (target, text)
        assert "0 failed, 0 could not run" in text, (target, text)  # the balance checks ran and passed
        # The whole project built there, its data tests and unit tests with it (a failed one stops
        # the run): the test that built the demo run's raw data a second time on PostgreSQL is this one.
        assert re.search(r"dbt build: .*\d+ tests?, \d+ unit_tests? passed", text), (target, text)

    duck = duckdb.connect(str(two_targets.settings("duckdb").warehouse), read_only=True)
    pg = psycopg2.connect(two_targets.url)
    try:
        differences = {}
        for mart in MARTS:
            columns = [c for c in _columns_of(duck, mart) if c not in EXCLUDED.get(mart, ())]
            select = f"select {', '.join(columns)} from marts.{mart}"
            on_duckdb = _sorted(duck.execute(select).fetchall())
            with pg.cursor() as cursor:
                cursor.execute(select)
                on_postgres = _sorted(cursor.fetchall())
            assert on_duckdb, f"{mart} is empty: the comparison would prove nothing"
            only_duckdb = sorted(set(on_duckdb) - set(on_postgres), key=str)
            only_postgres = sorted(set(on_postgres) - set(on_duckdb), key=str)
            if only_duckdb or only_postgres or len(on_duckdb) != len(on_postgres):
                differences[mart] = {
                    "columns": columns,
                    "rows": (len(on_duckdb), len(on_postgres)),
                    "only_duckdb": only_duckdb[:5],
                    "only_postgres": only_postgres[:5],
                }
    finally:
        duck.close()
        pg.close()
    assert differences == {}
