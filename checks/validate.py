"""Runs the invariants with Great Expectations 1.x, configured here in code.

One ephemeral GX context per run (nothing to keep in YAML; analytics off through
`core.telemetry.quiet_telemetry()`, which the `recon` command calls first), one datasource on
the warehouse (SQL on DuckDB and PostgreSQL, Spark on Spark), one asset per table an invariant is
about (a table asset; on Spark a dataframe asset, given the table when it runs), one expectation suite per suite and
table (`raw.raw_stripe.balance_transactions`, `marts.marts.fct_reconciliation_matches`, ...), each
invariant an `UnexpectedRowsExpectation` whose query (its file in checks/sql/, rendered by
checks/rendering.py) returns the rows that break it, and one checkpoint that validates them all
and builds the Data Docs (static HTML) into the report folder, made to work offline
(checks/data_docs.py).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)
from great_expectations.expectations.metadata_types import FailureSeverity

from checks.data_docs import make_offline
from checks.invariants import BUILT_SCHEMAS, INVARIANTS, SUITES, Invariant
from checks.rendering import BATCH, render_ranked
from checks.report import CheckReport, Note, NotRun, failure_from_rows
from checks.warehouse import SCHEMAS, Warehouse, connected, currencies_values
from core.errors import UserError
from core.settings import PROJECT_DIR, Settings

log = logging.getLogger(__name__)

DEFAULT_REPORT_DIR = PROJECT_DIR / "reports" / "data_docs"


def default_report_dir() -> Path:
    """Where the Data Docs go unless told: RECON_REPORT_DIR, else reports/data_docs."""
    return Path(os.environ.get("RECON_REPORT_DIR") or DEFAULT_REPORT_DIR)
SITE_NAME = "recon_checks"
DATASOURCE_NAME = "warehouse"

def render_query(invariant: Invariant, warehouse: Warehouse) -> str:
    """The invariant's SQL for this warehouse (checks/rendering.py), its rows ranked as every
    check returns them; `{batch}` left for GX."""
    context = {
        **{name: warehouse.schema(name) for name in SCHEMAS},
        "batch": BATCH,
        "currencies": currencies_values(),
        "target": warehouse.target,
        **invariant.params,
    }
    return render_ranked(invariant.sql, context)


def select_invariants(suites: Iterable[str]) -> list[Invariant]:
    chosen = tuple(suites)
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        raise UserError(f"Unknown suite(s) {', '.join(unknown)}: choose from {', '.join(SUITES)}.")
    return [inv for inv in INVARIANTS if inv.suite in chosen]


def _plan(
    invariants: Sequence[Invariant], tables: set[str], report: CheckReport
) -> list[Invariant]:
    """The invariants whose tables exist; the others go to the report as not run or skipped."""
    runnable: list[Invariant] = []
    skipped: dict[str, list[str]] = {}
    for inv in invariants:
        missing = [t for t in inv.tables if t not in tables]
        if not missing:
            runnable.append(inv)
        elif inv.needs_marts and any(t.split(".", 1)[0] in BUILT_SCHEMAS for t in missing):
            report.not_run.append(NotRun(inv.name, inv.suite, f"the marts are not built ({', '.join(missing)} missing)"))
        elif inv.optional:
            for table in missing:
                skipped.setdefault(table, []).append(inv.name)
        else:
            report.not_run.append(NotRun(inv.name, inv.suite, f"table {', '.join(missing)} missing"))
    if skipped:
        text = ", ".join(f"{table} ({len(names)} checks)" for table, names in sorted(skipped.items()))
        report.notes.append(Note("skipped, nothing loaded into", text))
    return runnable


def _context(report_dir: Path) -> Any:
    # GX logs its own housekeeping at INFO on its logger; a run of the checks shows only warnings
    # unless debugging.
    level = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(level)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        SITE_NAME,
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(report_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    return context


def _datasource(context: Any, warehouse: Warehouse) -> Any:
    if warehouse.target == "spark":
        # The process's session (GX's engine finds it as the active one); `persist=False`: GX
        # would otherwise cache every table it is handed, for one query each.
        return context.data_sources.add_spark(name=DATASOURCE_NAME, persist=False)
    if warehouse.target == "postgres":
        return context.data_sources.add_postgres(
            name=DATASOURCE_NAME, connection_string=warehouse.connection_string, kwargs=warehouse.engine_kwargs
        )
    return context.data_sources.add_sql(
        name=DATASOURCE_NAME, connection_string=warehouse.connection_string, kwargs=warehouse.engine_kwargs
    )


def _validate(
    warehouse: Warehouse, invariants: Sequence[Invariant], report_dir: Path, report: CheckReport
) -> None:
    context = _context(report_dir)
    datasource = _datasource(context, warehouse)
    by_name = {inv.name: inv for inv in invariants}
    definitions = []
    groups: dict[tuple[str, str], list[Invariant]] = {}
    for inv in invariants:
        groups.setdefault((inv.suite, inv.relation), []).append(inv)
    assets: dict[str, Any] = {}
    for (suite_name, relation), members in groups.items():
        if relation not in assets and warehouse.target == "spark":
            asset = datasource.add_dataframe_asset(name=relation)
            assets[relation] = asset.add_batch_definition_whole_dataframe(f"{relation} (whole table)")
        elif relation not in assets:
            schema, table = relation.split(".", 1)
            with warnings.catch_warnings():
                # GX 1.24 would have the schema in the connection; the checks read four schemas.
                warnings.filterwarnings("ignore", message=".*schema_name.*deprecated", category=DeprecationWarning)
                asset = datasource.add_table_asset(
                    name=relation, table_name=table, schema_name=warehouse.schema(schema)
                )
            assets[relation] = asset.add_batch_definition_whole_table(f"{relation} (whole table)")
        suite = context.suites.add(gx.ExpectationSuite(name=f"{suite_name}.{relation}"))
        for inv in members:
            suite.add_expectation(
                UnexpectedRowsExpectation(
                    unexpected_rows_query=render_query(inv, warehouse),
                    description=f"**{inv.name}**: {inv.description}",
                    meta={"invariant": inv.name},
                    severity=FailureSeverity(inv.severity),
                )
            )
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(name=f"{suite_name}.{relation}", data=assets[relation], suite=suite)
            )
        )
    if warehouse.target == "spark":
        # A dataframe asset takes its table as a batch parameter of the run, and a checkpoint
        # gives every validation the same parameters: so each validation runs on its own table
        # (GX stores each result, and the Data Docs below show them all).
        run_results = [
            definition.run(
                batch_parameters={"dataframe": warehouse.spark_table(definition.asset.name)},
                result_format="COMPLETE",
            )
            for definition in definitions
        ]
    else:
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name="recon_checks",
                validation_definitions=definitions,
                result_format="COMPLETE",
            )
        )
        run_results = list(checkpoint.run().run_results.values())
    # Data Docs once for the run: GX's UpdateDataDocsAction rebuilds the whole site once per
    # validation (one per table), which costs seconds.
    context.build_data_docs(site_names=[SITE_NAME])
    make_offline(report_dir)  # GX's pages load CDN assets: pointed at local ones instead
    for run_result in run_results:
        for outcome in run_result.results:
            name = outcome.expectation_config.meta.get("invariant")
            inv = by_name[name]
            _record(inv, outcome, report)
    index = report_dir / "index.html"
    report.report_path = index if index.exists() else None


def _record(inv: Invariant, outcome: Any, report: CheckReport) -> None:
    info = outcome.exception_info or {}
    raised = info.get("raised_exception") or any(
        isinstance(v, dict) and v.get("raised_exception") for v in info.values()
    )
    if raised:
        messages = [info.get("exception_message")] + [
            v.get("exception_message") for v in info.values() if isinstance(v, dict)
        ]
        reason = next((m for m in messages if m), "the query failed")
        report.not_run.append(NotRun(inv.name, inv.suite, f"its query failed: {str(reason).splitlines()[0]}"))
        return
    rows = outcome.result.get("details", {}).get("unexpected_rows") or []
    count = int(outcome.result.get("observed_value") or 0)
    if inv.severity == "info":
        if count:
            total = sum(int(r.get("amount_minor") or 0) for r in rows)
            text = f"{total} row(s)" + "".join(f"\n             {r['object_id']}: {r['detail']}" for r in rows)
            report.notes.append(Note(inv.name, text))
        return
    if outcome.success:
        report.passed_checks.append(inv.name)
        return
    report.failures.append(
        failure_from_rows(
            invariant=inv.name, suite=inv.suite, description=inv.description, row_count=count, rows=rows
        )
    )


def run_checks(
    settings: Settings,
    *,
    report_dir: Path | None = None,
    suites: Sequence[str] = SUITES,
) -> CheckReport:
    """Runs the checks of `suites` on the warehouse of `settings` and builds the Data Docs.

    Returns the report (`.passed`, `.failures`, `.render()`, `.report_path`); call
    `.raise_for_status()` to turn it into ChecksFailedError (a check failed: exit 1) or
    UserError (a check could not run, e.g. the marts are not built: exit 2). Raises UserError or
    SourceUnavailableError when the warehouse cannot be opened.
    """
    started = time.perf_counter()
    invariants = select_invariants(suites)
    folder = (report_dir or default_report_dir()).expanduser().resolve()
    with connected(settings) as warehouse:
        report = CheckReport(warehouse=warehouse.description, suites=tuple(suites))
        runnable = _plan(invariants, warehouse.existing_tables(), report)
        if runnable:
            folder.mkdir(parents=True, exist_ok=True)
            log.info("validating %d invariants on %s", len(runnable), warehouse.description)
            _validate(warehouse, runnable, folder, report)
    report.seconds = time.perf_counter() - started
    return report
