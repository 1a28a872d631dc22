"""The macros that compare names give the same answer on DuckDB and PostgreSQL, bit for bit.

Each target's SQL is the project's own macros compiled by dbt for that target (`dbt compile
--inline`), run over the same strings: the customer name key on every Latin, Greek and Cyrillic
character (and punctuation, letter-like symbols, full-width forms) inside a name and on random
names with accents, legal forms and dots; the Jaro-Winkler similarity on random pairs from small
alphabets (many repeats and transpositions) and on name-like pairs; the match scorer's sample
bucket (`stable_bucket`) on Stripe-like ids and those names, against md5 computed in Python.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Iterator
from typing import Any

import duckdb
import pandas as pd
import psycopg2
import psycopg2.extras
import pytest

from recon.dbt import run_dbt

pytestmark = pytest.mark.postgres

INLINE = (
    "select i, {{ customer_name_key('x') }} as name_key, {{ string_similarity('a', 'b') }} as similarity, "
    "{{ stable_bucket('x', 1000) }} as bucket from strings order by i"
)
CODE_POINTS = [
    *range(0x20, 0x250),  # ASCII, Latin-1, Latin Extended-A and -B
    *range(0x300, 0x530),  # combining marks, Greek, Cyrillic
    *range(0x1AB0, 0x1B00),  # combining marks extended
    *range(0x1D00, 0x2200),  # phonetic, Latin Extended Additional, Greek Extended, punctuation, letter-like
    *range(0xFB00, 0xFB07),  # ligatures
    *range(0xFE20, 0xFE30),  # combining half marks
    *range(0xFF00, 0xFF60),  # full-width forms
]


def _names(rng: random.Random) -> list[str]:
    names = []
    for code_point in CODE_POINTS:
        c = chr(code_point)
        names += [f"Ab{c}cd J.{c}. GmbH", f"{c}x. y", f"Omar{c}Dubois Inc.", f"_b.c {c}"]
    pieces = ["a", "B", ".", " ", ",", "-", "_", "é", "É", "ø", "ß", "İ", "K", "\u0301", "1", "gmbh", "inc", "Ltd"]
    names += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(1000)]
    return names


def _pairs(rng: random.Random) -> list[tuple[str, str]]:
    pairs = [("martha", "marhta"), ("dixon", "dicksonx"), ("", ""), ("a", "a"), ("ab", "ba"), ("omar dubois", "o dubois")]
    for _ in range(1000):
        alphabet = rng.choice(["ab", "abc", "abcde ", "abcdefghij klmno"])
        left, right = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(2))
        pairs.append((left, right))
    words = ["omar", "dubois", "larsen", "works", "miller", "joseph", "o", "j", "jp", "bv"]
    for _ in range(200):
        left, right = (" ".join(rng.sample(words, rng.randint(1, 3))) for _ in range(2))
        pairs.append((left, right))
    return pairs


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[dict[str, str]]:
    scratch = tmp_path_factory.mktemp("compile") / "scratch.duckdb"
    sql = {}
    for target in ("duckdb", "postgres"):
        result = run_dbt(["compile", "--inline", INLINE, "--target", target], {"RECON_WAREHOUSE": str(scratch)})
        sql[target] = result.result.results[0].node.compiled_code
    yield sql


def _both(
    compiled: dict[str, str], postgres_url: str, rows: list[tuple[Any, ...]], column: int
) -> tuple[list[Any], list[Any]]:
    duck = duckdb.connect()
    duck.register("given", pd.DataFrame(rows, columns=["i", "x", "a", "b"]).astype({"x": object, "a": object, "b": object}))
    duck.execute("create table strings as select i::integer as i, x::varchar as x, a::varchar as a, b::varchar as b from given")
    on_duckdb = [row[column] for row in duck.execute(compiled["duckdb"]).fetchall()]
    duck.close()
    pg = psycopg2.connect(postgres_url)
    try:
        with pg.cursor() as cursor:
            cursor.execute("create temporary table strings (i integer, x varchar, a varchar, b varchar)")
            psycopg2.extras.execute_values(cursor, "insert into strings values %s", rows)
            cursor.execute(compiled["postgres"])
            on_postgres = [row[column] for row in cursor.fetchall()]
    finally:
        pg.close()
    return on_duckdb, on_postgres


def test_customer_name_keys_are_the_same_on_both_targets(compiled: dict[str, str], postgres_url: str) -> None:
    names = _names(random.Random(16))
    rows = [(i, name, None, None) for i, name in enumerate(names)]
    on_duckdb, on_postgres = _both(compiled, postgres_url, rows, 1)
    differ = [(names[i], d, p) for i, (d, p) in enumerate(zip(on_duckdb, on_postgres, strict=True)) if d != p]
    assert differ == []
    # The comparison means something: accents, legal forms and word order are handled on both.
    keys = dict(zip(names, on_postgres, strict=True))
    assert keys["Omar\u00e9Dubois Inc."] == "omaredubois"
    assert keys["Ab\u00f8cd J.\u00f8. GmbH"] == "ab cd j"


def test_jaro_winkler_is_the_same_on_both_targets_to_the_bit(compiled: dict[str, str], postgres_url: str) -> None:
    pairs = _pairs(random.Random(16))
    rows = [(i, None, a, b) for i, (a, b) in enumerate(pairs)]
    on_duckdb, on_postgres = _both(compiled, postgres_url, rows, 2)
    differ = [(pairs[i], d, p) for i, (d, p) in enumerate(zip(on_duckdb, on_postgres, strict=True)) if d != p]
    assert differ == []
    assert len({value for value in on_duckdb if 0.7 < value < 1}) > 100  # the Winkler step ran often
    assert on_postgres[0] == pytest.approx(0.9611111111111111)  # martha / marhta, the textbook pair


def test_the_sample_buckets_are_md5s_on_both_targets(compiled: dict[str, str], postgres_url: str) -> None:
    """The scorer samples by these buckets above var match_training_sample_items: the same items
    on every target only if every target computes the same bucket (tests/recon/test_spark.py
    checks Spark's against the same definition)."""
    rng = random.Random(16)
    ids = ["ch_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24)) for _ in range(3000)]
    values = [*ids, *_names(rng)[::7]]
    rows = [(i, value, None, None) for i, value in enumerate(values)]
    on_duckdb, on_postgres = _both(compiled, postgres_url, rows, 3)
    expected = [int(hashlib.md5(value.encode("utf-8")).hexdigest()[:8], 16) % 1000 for value in values]
    assert on_duckdb == expected
    assert on_postgres == expected
    assert len(set(expected[:3000])) > 900  # a sample's share, not a few buckets
