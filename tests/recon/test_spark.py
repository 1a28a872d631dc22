"""The spark target on the two-target world (tests/recon/conftest.py): every step of `recon run`.

The session's `two_targets` world (seed 16, scale 300, messy) ran through the whole pipeline on
DuckDB (and PostgreSQL). Here the same world, with the same review policy, runs through the same
steps on Spark (`run_steps`): the loads into the lake (dlt's Delta tables, registered in the
session's catalog), `dbt build` with the match scorer between its two parts, the classifier and
the models downstream of it, the balance checks (Great Expectations' Spark datasource) and the
summary. Staging, the name keys and references, every analysts' rule, the candidate pairs, the
assignment, the scorer's weights, the classifier's table and the four marts are then compared with
DuckDB's row for row, every column but the load and classification times; the checks' verdicts
and the summary must be DuckDB's. DuckDB's side is the session's run: not loaded or built again.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.settings import Settings, resolve
from core.warehouse import Connection
from recon.dbt import run_dbt, settings_env
from recon.demo.run import serving
from recon.pipeline import run_steps
from tests.recon.conftest import TwoTargets, usd_waits_for_a_person

pytestmark = [pytest.mark.spark, pytest.mark.slow]

COMPARED = (
    "staging.stg_stripe__charges",
    "staging.stg_erp__payments",
    "intermediate.int_customer_names_keyed",
    "intermediate.int_stripe_item_references",
    "intermediate.int_erp_payment_references",
    "matching.int_match_candidates_unioned",
    "matching.int_match_pairs_candidate",
    "matching.int_matches_assigned",
    "ml.match_scorer_weights",
    "ml.ml_exception_classifications",
    "marts.fct_reconciliation_matches",
    "marts.fct_reconciliation_exceptions",
    "marts.rpt_payout_reconciliation",
    "marts.rpt_payout_invoices",
)
# Columns not compared, with the reason: when each step ran (the two runs are minutes apart).
EXCLUDED = {
    "observed_at": "when the load read the object",
    "loaded_at": "when the load ran",
    "classified_at": "when the classifier ran",
}


# dbt's own generic tests are left out of the Spark run (`--skip-dbt-tests`): dbt-spark's own suite
# proves their SQL on Spark, they passed on the DuckDB and PostgreSQL builds of this very world, and
# the relations compared below equal DuckDB's row for row. On local Spark they were 215 of the
# build's nodes and ~35 s of its ~125 s (logs/dbt.log). The project's own tests (unique combinations,
# expressions, conservation, the journals' balance, the decisions' names) run here, and
# benchmarks/bench_spark.py builds with every test.
DBT_OWN_GENERIC_TESTS = ("not_null", "unique", "accepted_values", "relationships")


@dataclass(frozen=True)
class SparkRun:
    settings: Settings
    output: str  # what run_steps printed


@pytest.fixture(scope="module")
def spark_run(two_targets: TwoTargets, spark_session: Any, tmp_path_factory: pytest.TempPathFactory) -> SparkRun:
    settings = resolve(
        warehouse=str(tmp_path_factory.mktemp("spark-run") / "spark.duckdb"), target="spark",
        skip_dbt_tests=DBT_OWN_GENERIC_TESTS, env={},
    )
    usd_waits_for_a_person(settings)  # the policy the DuckDB run decided its reviews with
    out = io.StringIO()
    with serving(two_targets.world, settings) as run_settings:
        run_steps(run_settings, out)
    return SparkRun(settings, out.getvalue())


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return round(float(value), 9)
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return value.replace(tzinfo=None)
    return value


def _sorted(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    normal = [tuple(_normal(v) for v in row) for row in rows]
    return sorted(normal, key=lambda row: tuple((v is None, str(v)) for v in row))


def _section(output: str, start: str, end: str | None) -> str:
    """The lines of `output` from the line starting with `start` up to the one starting with `end`."""
    text = output[output.index(start):]
    return text[: text.index(end)] if end else text


def test_every_step_runs_on_spark(spark_run: SparkRun, spark_session: Any) -> None:
    text = spark_run.output
    assert "Not built on Spark" not in text, text
    # The lake holds Delta tables, one row an id although a Stripe load reads objects twice.
    lake = spark_run.settings.warehouse.with_suffix(".lake")
    assert (lake / "raw_stripe" / "charges" / "_delta_log").is_dir()
    rows = spark_session.sql("select count(*), count(distinct id) from raw_stripe.charges").collect()
    assert rows[0][0] > 0 and rows[0][0] == rows[0][1]
    for step in ("== dbt build: done", "== classify: done", "== balance checks: done", "== summary"):
        assert step in text, (step, text)
    assert "(trained;" in text, text  # the classifier learned from the past resolutions on Spark
    assert "dbt tests left out on purpose (--skip-dbt-tests): accepted_values, not_null, relationships, unique" in text
    # the project's own data tests still ran
    assert re.search(r"dbt build: \d+ models, \d+ seeds, [1-9]\d* tests passed", text), text
    assert "BI copy: not made on Spark" in text, text


def test_spark_builds_what_duckdb_builds_row_for_row(
    spark_run: SparkRun, two_targets: TwoTargets, spark_session: Any
) -> None:
    duck = duckdb.connect(str(two_targets.settings("duckdb").warehouse), read_only=True)
    differences = {}
    try:
        for relation in COMPARED:
            schema, table = relation.split(".")
            columns = [
                str(row[0]) for row in duck.execute(
                    "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                    "order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if row[0] not in EXCLUDED
            ]
            assert columns, f"{relation} has no columns on DuckDB"
            select = f"select {', '.join(columns)} from {relation}"
            on_duckdb = _sorted(duck.execute(select).fetchall())
            on_spark = _sorted([tuple(row) for row in spark_session.sql(select).collect()])
            assert on_duckdb, f"{relation} is empty: the comparison would prove nothing"
            if on_duckdb != on_spark:
                only_duckdb = sorted(set(on_duckdb) - set(on_spark), key=str)
                only_spark = sorted(set(on_spark) - set(on_duckdb), key=str)
                differences[relation] = {
                    "rows": (len(on_duckdb), len(on_spark)),
                    "only_duckdb": only_duckdb[:3],
                    "only_spark": only_spark[:3],
                }
    finally:
        duck.close()
    assert differences == {}


def _verdicts(output: str) -> list[str]:
    """The balance checks' part of a run's output, but where and how long they ran."""
    lines = _section(output, "== balance checks", "\n== summary").splitlines()[1:]
    return [re.sub(r"^== checks on .* \((raw, marts)\): (.*) \([\d.]+ s\)$", r"== checks (\1): \2", line) for line in lines]


def test_the_checks_and_the_summary_say_what_they_say_on_duckdb(spark_run: SparkRun, two_targets: TwoTargets) -> None:
    on_duckdb, on_spark = two_targets.outputs["duckdb"], spark_run.output
    verdicts = _verdicts(on_spark)
    assert verdicts[0].startswith("== checks (raw, marts): ") and "0 failed, 0 could not run" in verdicts[0], verdicts
    # The same invariants ran and passed, and the same quarantined rows were counted, on both.
    assert verdicts == _verdicts(on_duckdb)
    # Every figure of the summary is read from the marts and staging, which agree row for row.
    assert _section(on_spark, "\n== summary", None) == _section(on_duckdb, "\n== summary", None)


def test_the_sample_buckets_are_md5s_on_spark(spark_run: SparkRun, spark_session: Any) -> None:
    """`stable_bucket` compiled by dbt for Spark gives the md5 buckets DuckDB and PostgreSQL give
    (tests/models/test_cross_target_sql.py): above var match_training_sample_items the scorer
    samples the same items on every target."""
    values = [f"ch_{n:05d}x{n * 7919 % 1000:03d}" for n in range(400)] + ["abc", "Omar\u00e9Dubois Inc."]
    rows = ", ".join("('" + value.replace("'", "''") + "')" for value in values)
    inline = f"select x, {{{{ stable_bucket('x', 1000) }}}} as bucket from values {rows} as given(x)"
    compiled = run_dbt(["compile", "--inline", inline], settings_env(spark_run.settings)).result.results[0].node.compiled_code
    assert "md5(" in compiled and "conv(" in compiled, compiled
    on_spark = {row[0]: row[1] for row in spark_session.sql(compiled).collect()}
    assert on_spark == {value: int(hashlib.md5(value.encode("utf-8")).hexdigest()[:8], 16) % 1000 for value in values}
    assert on_spark["abc"] == 272


def test_the_python_steps_write_tables_on_spark(spark_session: Any, tmp_path: Path) -> None:
    """core.warehouse.Connection on Spark: what the classifier and the match scorer do."""
    with Connection.open(resolve(warehouse=str(tmp_path / "any.duckdb"), target="spark", env={})) as con:
        con.execute("create schema if not exists ml_test")
        con.execute(
            "create table if not exists ml_test.weights (match_type varchar not null, feature varchar, "
            "weight numeric(12, 6) not null, fitted_at timestamp)"
        )
        con.execute("alter table ml_test.weights add column if not exists note varchar")
        con.execute("delete from ml_test.weights")
        con.insert("ml_test.weights", ("match_type", "feature", "weight"), [("charge", "amount", 1.5), ("charge", "days", -0.25)])
        con.execute("insert into ml_test.weights (match_type, feature, weight) values (?, ?, ?)", ("refund", "amount", 2))
        con.execute("delete from ml_test.weights where feature = ?", ["days"])
        rows = con.rows("select match_type, feature, weight, note from ml_test.weights order by match_type")
        frame = con.frame("select weight from ml_test.weights order by weight")
    assert rows == [("charge", "amount", Decimal("1.500000"), None), ("refund", "amount", Decimal("2.000000"), None)]
    assert frame["weight"].tolist() == [1.5, 2.0]


def test_a_lake_in_another_folder_is_registered_there(spark_session: Any, tmp_path: Path) -> None:
    """A table of the same columns in another lake (another RECON_LAKE_PATH, another world in the
    same session's catalog) is read from its own folder, not refreshed at the old one."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from ingest.lake import register_in_spark

    for lake, value in (("one", "first"), ("two", "second")):
        write_deltalake(str(tmp_path / lake / "raw_stripe" / "things"), pa.table({"id": [value]}))
    register_in_spark(spark_session, tmp_path / "one", schema_prefix="lake_test_")
    assert spark_session.sql("select id from lake_test_raw_stripe.things").collect()[0][0] == "first"
    register_in_spark(spark_session, tmp_path / "two", schema_prefix="lake_test_")
    assert spark_session.sql("select id from lake_test_raw_stripe.things").collect()[0][0] == "second"
