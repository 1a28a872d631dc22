"""Where the checks run: GX on DuckDB through the workaround, and GX on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from checks import run_checks
from checks.warehouse import connected
from core.errors import SourceUnavailableError, UserError
from core.settings import resolve
from tests.checks.conftest import prefixed, world_statements


def test_gx_validates_duckdb_through_the_single_connection(make_warehouse: Callable[..., Path]) -> None:
    """The DuckDB workaround, exercised by GX itself (its SQL datasource, an
    UnexpectedRowsExpectation, a real file). If an upgrade of GX, SQLAlchemy or duckdb-engine
    breaks it, this fails with GX's own error (`'NoneType' object is not subscriptable`)."""
    import great_expectations as gx
    from great_expectations.expectations.core.unexpected_rows_expectation import (
        UnexpectedRowsExpectation,
    )

    path = make_warehouse("update raw_stripe.balance_transactions set net = 0 where id in ('txn_ch1', 'txn_ch2')")
    with connected(resolve(warehouse=str(path), target="duckdb", env={})) as warehouse:
        context = gx.get_context(mode="ephemeral")
        source = context.data_sources.add_sql(
            name="w", connection_string=warehouse.connection_string, kwargs=warehouse.engine_kwargs
        )
        batch = source.add_table_asset(name="bt", table_name="balance_transactions", schema_name="raw_stripe")
        definition = batch.add_batch_definition_whole_table("all")
        suite = context.suites.add(gx.ExpectationSuite(name="s"))
        suite.add_expectation(
            UnexpectedRowsExpectation(unexpected_rows_query="select id from {batch} where amount - fee <> net")
        )
        for _ in range(2):  # the one connection stays usable run after run
            result = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"v{_}", data=definition, suite=suite)
            ).run(result_format="COMPLETE")
            outcome = result.results[0]
            assert not outcome.exception_info.get("raised_exception"), outcome.exception_info
            assert outcome.result["observed_value"] == 2
            assert {r["id"] for r in outcome.result["details"]["unexpected_rows"]} == {"txn_ch1", "txn_ch2"}


def test_the_warehouse_is_only_read(make_warehouse: Callable[..., Path]) -> None:
    """The checks open DuckDB read-only: another reader may share the file."""
    import duckdb

    path = make_warehouse()
    with (
        duckdb.connect(str(path), read_only=True),
        connected(resolve(warehouse=str(path), target="duckdb", env={})) as warehouse,
    ):
        assert "raw_stripe.payouts" in warehouse.existing_tables()


def test_no_warehouse_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        run_checks(resolve(warehouse=str(tmp_path / "none.duckdb"), target="duckdb", env={}))


def test_unreachable_postgres_is_source_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_PG_PORT", "9")
    with pytest.raises(SourceUnavailableError, match="Cannot reach the PostgreSQL warehouse"):
        run_checks(resolve(target="postgres", env={}))


@pytest.mark.postgres
def test_checks_run_on_postgres(
    postgres_database: str, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same world in the real PostgreSQL server (schemas prefixed as dbt's are): all pass,
    then a broken journal fails by name."""
    import psycopg2

    prefix = "t_checks_"
    monkeypatch.setenv("RECON_SCHEMA_PREFIX", prefix)
    url = postgres_url.rsplit("/", 1)[0] + f"/{postgres_database}"
    with psycopg2.connect(url) as pg, pg.cursor() as cur:
        for sql in world_statements(prefix):
            cur.execute(sql)
    settings = resolve(target="postgres", env={})
    report = run_checks(settings, report_dir=tmp_path / "docs")
    assert report.passed, report.render()
    assert postgres_database in report.warehouse

    with psycopg2.connect(url) as pg, pg.cursor() as cur:
        cur.execute(prefixed("update raw_erp.gl_entries set credit = 30.01 where journal_number = 'JE-2' and line_number = '2'", prefix))
    report = run_checks(settings, report_dir=tmp_path / "docs")
    assert [f.invariant for f in report.failures] == ["every ERP journal balances"], report.render()
    assert report.failures[0].rows[0].object_id == "JE-2"
    assert report.failures[0].at_stake_by_currency == {"usd": 1}
