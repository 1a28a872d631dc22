"""Micro-batches rebuild their models from the SQL dbt compiled (recon.serve.replay) once dbt has
built them: the same models dbt would run, and dbt again whenever the replay cannot be trusted.

The micro-batcher runs in this process here (in `recon serve` it is a process of its own), over
a real DuckDB copy of the live world's warehouse and its real inbox."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from core.settings import resolve
from recon.dbt import parse_manifest, run_dbt, settings_env
from recon.review.loading import DECISIONS_SELECTORS
from recon.serve import default_inbox_path
from recon.serve.inbox import Committer, Inbox, Received
from recon.serve.microbatch import MicroBatcher, fixed_views
from recon.serve.replay import selected_models, why_dbt

MARTS_HOLDING = (
    "select stripe_object_id from marts.fct_reconciliation_matches where stripe_object_id = ? "
    "union all select object_id from marts.fct_reconciliation_exceptions where object_id = ?"
)


@pytest.fixture(scope="module")
def manifest() -> Any:
    return parse_manifest(settings_env(resolve(warehouse="unused.duckdb", target="duckdb", env={})))


def _dbt_ls(selectors: list[str], excluded: list[str]) -> set[str]:
    env = settings_env(resolve(warehouse="unused.duckdb", target="duckdb", env={}))
    args = ["ls", "--resource-type", "model", "--output", "json", "--output-keys", "unique_id", "--select", *selectors]
    result = run_dbt([*args, *(["--exclude", *excluded] if excluded else [])], env)
    return {json.loads(line)["unique_id"] for line in result.result}


@pytest.mark.parametrize(
    "selectors",
    [["source:stripe.charges+"], ["source:stripe.disputes+", "source:stripe.payouts+"], list(DECISIONS_SELECTORS)],
)
def test_the_replay_selects_the_models_dbt_selects(manifest: Any, selectors: list[str]) -> None:
    """Read off the manifest's graph, the models are those `dbt ls` names for the same selectors
    and exclusions (a model left out would stay stale; one too many costs time)."""
    excluded = fixed_views(manifest)
    for leaving_out in ([], excluded):
        ours = selected_models(manifest, selectors, leaving_out)
        assert ours and ours == _dbt_ls(selectors, leaving_out)


def test_only_plain_sql_tables_and_views_are_replayed(manifest: Any) -> None:
    node = next(node for node in manifest.nodes.values() if node.name == "fct_reconciliation_matches")
    assert why_dbt(manifest, node) is None

    def variant(**config: Any) -> Any:
        settings = {"materialized": "table", "pre_hook": [], "post_hook": [], **config}
        return SimpleNamespace(
            name="m", language="sql", raw_code="select 1", depends_on=SimpleNamespace(macros=[]),
            config=SimpleNamespace(get=settings.get, **settings),
        )

    assert why_dbt(manifest, variant()) is None
    assert why_dbt(manifest, variant(materialized="incremental")) == "m is materialized as incremental"
    assert why_dbt(manifest, variant(post_hook=[SimpleNamespace(sql="grant select on {{ this }} to bi")])) == "m has a hook"
    erp = next(node for node in manifest.nodes.values() if node.name == "stg_erp__payments")  # reads the currencies seed
    assert why_dbt(manifest, erp) == "stg_erp__payments reads the warehouse's rows to write its SQL"


def _charge_events(live_world: Any, count: int) -> list[dict[str, Any]]:
    events = [event for event in live_world.events() if event["type"] == "charge.succeeded"]
    assert len(events) >= count
    return events[:count]


def _receive(settings: Any, event: dict[str, Any]) -> None:
    received = Received(
        event["id"], event["type"], event["created"], "charge", event["data"]["object"]["id"], json.dumps(event).encode()
    )
    committer = Committer(default_inbox_path(settings))
    try:
        assert asyncio.run(_store(committer, received)) is True
    finally:
        committer.close()


async def _store(committer: Committer, received: Received) -> bool:
    return bool(await committer.store(received))


def _holds(warehouse: Path, charge_id: str) -> bool:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        return bool(connection.execute(MARTS_HOLDING, [charge_id, charge_id]).fetchall())
    finally:
        connection.close()


def _columns(warehouse: Path) -> list[tuple[Any, ...]]:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        return connection.execute(
            "select table_name, column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = 'marts' and table_catalog = current_database() order by all"
        ).fetchall()
    finally:
        connection.close()


def test_micro_batches_replay_after_dbt_and_fall_back_to_dbt_when_a_mart_was_changed(
    live_world: Any, warehouse_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first batch is dbt's; the next ones replay the compiled SQL into the tables dbt made
    (the contracts' column types stay) and leave the marts a full `dbt
    run` builds from the same raw tables; a mart altered behind the service's back makes the
    replay fail, and dbt rebuilds the batch instead: the event still arrives."""
    settings = resolve(warehouse=str(warehouse_copy), target="duckdb", env={})
    events = _charge_events(live_world, 4)
    inbox = Inbox(default_inbox_path(settings))
    batcher = MicroBatcher(settings, inbox)
    try:
        _receive(settings, events[0])
        built_by_dbt = batcher.run_once()
        assert built_by_dbt is not None and built_by_dbt.models and not built_by_dbt.replayed
        columns = _columns(warehouse_copy)
        assert ("fct_reconciliation_matches", "confidence", "DECIMAL(5,4)", "YES") in columns  # the contract's type

        for event in events[1:3]:
            _receive(settings, event)
            replayed = batcher.run_once()
            assert replayed is not None and replayed.replayed and replayed.models
            assert "models rebuilt from their compiled SQL" in replayed.render()
            assert _holds(warehouse_copy, event["data"]["object"]["id"])
        assert _columns(warehouse_copy) == columns
        replayed_marts = _marts(warehouse_copy)
        run_dbt(["run"], settings_env(settings))  # every model, from the same raw tables
        assert _marts(warehouse_copy) == replayed_marts

        connection = duckdb.connect(str(warehouse_copy))
        try:
            connection.execute("alter table marts.fct_reconciliation_matches drop column rule_name")
        finally:
            connection.close()
        _receive(settings, events[3])
        with caplog.at_level(logging.WARNING, logger="recon.serve.microbatch"):
            rebuilt = batcher.run_once()
        assert rebuilt is not None and not rebuilt.replayed and rebuilt.models
        assert "could not be rebuilt from their compiled SQL" in caplog.text and "dbt run rebuilds them" in caplog.text
        assert _holds(warehouse_copy, events[3]["data"]["object"]["id"])
        assert _columns(warehouse_copy) == columns
    finally:
        inbox.close()


def _marts(warehouse: Path) -> dict[str, list[Any]]:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' "
                "and table_catalog = current_database() order by table_name"
            ).fetchall()
        ]
        assert "fct_reconciliation_matches" in tables
        return {table: connection.execute(f"select * from marts.{table} order by all").fetchall() for table in tables}
    finally:
        connection.close()
