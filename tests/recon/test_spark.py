"""The spark target on a small world (test_targets_agree.py's): the lake, the catalog, and the models that build there.

One small messy world is loaded twice, into a DuckDB file and into the lake (dlt's Delta tables,
registered in the session's Spark catalog), and every model runs on both (`dbt run`). Staging,
the name keys and references, every analysts' rule, the candidate pairs with their fuzzy name
similarity, the assignment and the four marts are then compared row for row, every column but
the load times.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.settings import Settings, resolve
from core.warehouse import Connection
from demoworld.mess import MESSY
from demoworld.world import WorldSpec, generate_world
from recon import pipeline
from recon.dbt import run_dbt, settings_env
from recon.demo.run import serving

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
    "marts.fct_reconciliation_matches",
    "marts.fct_reconciliation_exceptions",
    "marts.rpt_payout_reconciliation",
    "marts.rpt_payout_invoices",
)
# Columns not compared, with the reason: when each load ran (the two loads run one after the other).
EXCLUDED = {"observed_at": "when the load read the object", "loaded_at": "when the load ran"}


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return round(float(value), 9)
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return value.replace(tzinfo=None)
    return value


def _sorted(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    normal = [tuple(_normal(v) for v in row) for row in rows]
    return sorted(normal, key=lambda row: tuple((v is None, str(v)) for v in row))


def _load_and_run(world: Path, settings: Settings) -> str:
    out = io.StringIO()
    with serving(world, settings) as run_settings:
        for report in [*pipeline.ingest_erp(run_settings), *pipeline.ingest_stripe(run_settings)]:
            out.write(report.render() + "\n")
        pipeline.register_lake(run_settings)
        run_dbt(["seed"], settings_env(run_settings))
        # The models alone (`dbt run`, the same SQL on both): the match scorer's weights are the
        # seed's priors on both, and the classifier does not run.
        run_dbt(["run"], settings_env(run_settings))
    return out.getvalue()


@pytest.fixture(scope="module")
def both(spark_session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Settings]:
    root = tmp_path_factory.mktemp("spark-world")
    world = root / "world"
    generate_world(WorldSpec(seed=16, scale=300, months=6, mess=MESSY), world)
    targets = {}
    for target in ("duckdb", "spark"):
        settings = resolve(warehouse=str(root / f"{target}.duckdb"), target=target, env={})
        _load_and_run(world, settings)
        targets[target] = settings
    return targets


def test_the_lake_holds_delta_tables_merged_on_id(both: dict[str, Settings], spark_session: Any) -> None:
    lake = both["spark"].warehouse.with_suffix(".lake")
    assert (lake / "raw_stripe" / "charges" / "_delta_log").is_dir()
    # A Stripe load reads objects twice (events and listings): one row an id all the same.
    rows = spark_session.sql("select count(*), count(distinct id) from raw_stripe.charges").collect()
    assert rows[0][0] > 0 and rows[0][0] == rows[0][1]


def test_spark_builds_what_duckdb_builds_row_for_row(both: dict[str, Settings], spark_session: Any) -> None:
    duck = duckdb.connect(str(both["duckdb"].warehouse), read_only=True)
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
