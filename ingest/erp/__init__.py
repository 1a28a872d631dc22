"""dlt source of the ERP books (docs/contract.md section 3): CSV files or a SQL database -> `raw_erp`.

Each table lands with write disposition merge on its key. Rows are validated one by one; bad
rows go to `raw_erp.quarantine` with their source, line, raw text and reason, never stopping the
load. Each row carries `_row_fingerprint` (a hash of its values): before a load the fingerprints
already in the warehouse are read, so unchanged rows are not sent again, and a changed row is
counted as updated.

Before anything is loaded every input is opened and its header read (`check_inputs`): one that
cannot be read as its table (not found, not text, no header, a required column missing) stops
the run with one sentence naming it, unless the run allows it to be missing
(`--allow-missing-source erp/payments`): then its last good load stands, and
`raw_erp.load_log` (one row per input and load) records it as stale.

Public API: `load_erp(settings)`, and the table machinery `ingest.decisions` loads with
(`LoadRun`, `csv_opener`, `table_resource`, `read_fingerprints`, `load_tables`): the decisions
package imports the ERP's, never the other way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import sqlalchemy
from dlt.common.schema.typing import TColumnSchema
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from core.errors import ReconError, SourceUnavailableError, UnreadableSourceError, UserError
from core.settings import Settings
from core.warehouse import describe_postgres
from ingest import destinations
from ingest.erp.helpers import (
    FINGERPRINT_COLUMN,
    QUARANTINE_COLUMNS,
    InputError,
    TableCounts,
    TableInput,
    TableProcessor,
    TableSpec,
    dlt_columns,
    missing_columns,
    normalize_header,
    read_csv,
    sql_records,
)
from ingest.erp.settings import (
    BATCH_ROWS,
    DATASET_NAME,
    LOAD_LOG_TABLE,
    PIPELINE_NAME,
    QUARANTINE_TABLE,
    SOURCE_NAME,
    TABLES,
)
from ingest.report import LoadReport

__all__ = [
    "ErpDatabaseUnavailableError",
    "InputProblem",
    "LoadRun",
    "check_allowed_names",
    "check_inputs",
    "erp_source",
    "load_erp",
    "load_tables",
    "read_last_loads",
    "source_resources",
]

logger = logging.getLogger(__name__)

# The quarantine table's key: the same bad row (table, source, line, raw text) is stored once.
QUARANTINE_KEY = "quarantine_id"


class ErpDatabaseUnavailableError(SourceUnavailableError, UserError):
    """The ERP database cannot be reached (a source problem and a setting to check)."""


# How each input of a load ended, in `load_log.status`.
LOADED, STALE = "loaded", "stale"

LOAD_LOG_COLUMNS: dict[str, dict[str, Any]] = {
    "table_name": {"name": "table_name", "data_type": "text", "nullable": False},
    "source": {"name": "source", "data_type": "text", "nullable": False},
    "status": {"name": "status", "data_type": "text", "nullable": False},
    "reason": {"name": "reason", "data_type": "text", "nullable": True},
    "loaded_at": {"name": "loaded_at", "data_type": "timestamp", "nullable": False},
}


@dataclass(frozen=True)
class InputProblem:
    """An input that cannot be read as its table, and why."""

    table: str
    source: str
    reason: str


@dataclass
class LoadRun:
    """The state of one load shared by its resources: what the warehouse already holds, the
    load's time, the inputs that were read (`inputs`: table -> source) or left stale (`stale`),
    and the counts and messages the report is made of."""

    known: dict[str, dict[str, str]] = field(default_factory=dict)
    known_quarantine: set[str] = field(default_factory=set)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    batch_rows: int = BATCH_ROWS
    counts: dict[str, TableCounts] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    stale: dict[str, InputProblem] = field(default_factory=dict)

    def go_on_without(self, problem: InputProblem, last_loaded: datetime | None, source_name: str) -> None:
        """An unreadable input the run was allowed to miss: its last good load stands."""
        message = (
            f"{problem.source} {problem.reason}: not loaded (--allow-missing-source); "
            f"{source_name}/{problem.table} stays at {_last_load_phrase(last_loaded, self.loaded_at)}."
        )
        logger.warning(message)
        self.messages.append(message)
        self.stale[problem.table] = problem
        self.skipped[problem.table] = self.skipped.get(problem.table, 0) + 1

    def log_rows(self) -> list[dict[str, Any]]:
        """The load log's rows for this load: one per input read or left stale."""
        rows = [
            {"table_name": table, "source": source, "status": LOADED, "reason": None, "loaded_at": self.loaded_at}
            for table, source in sorted(self.inputs.items())
        ]
        rows += [
            {
                "table_name": table,
                "source": problem.source,
                "status": STALE,
                "reason": problem.reason,
                "loaded_at": self.loaded_at,
            }
            for table, problem in sorted(self.stale.items())
        ]
        return rows

    def processor(self, spec: TableSpec) -> TableProcessor:
        processor = TableProcessor(
            spec,
            known=self.known.get(spec.name, {}),
            known_quarantine=self.known_quarantine,
            loaded_at=self.loaded_at,
            batch_rows=self.batch_rows,
        )
        self.counts[spec.name] = processor.counts
        return processor


InputOpener = Callable[[TableSpec], TableInput | None]


def table_resource(spec: TableSpec, open_input: InputOpener, run: LoadRun) -> DltResource:
    """A dlt resource for one table: accepted rows to `spec.name`, bad rows to the quarantine."""
    quarantine_hints = dlt.mark.make_hints(
        table_name=QUARANTINE_TABLE,
        write_disposition="merge",
        primary_key=QUARANTINE_KEY,
        columns=_columns(QUARANTINE_COLUMNS),
    )

    # Each table gets its own variant of hints: a variant starts from the resource's hints, so
    # the resource itself carries none that the quarantine must not inherit.
    table_hints = dlt.mark.make_hints(
        table_name=spec.name,
        write_disposition="merge",
        primary_key=list(spec.primary_key),
        columns=_columns(dlt_columns(spec)),
    )

    def rows() -> Iterator[Any]:
        processor = run.processor(spec)
        counts = processor.counts
        started = time.perf_counter()
        source = spec.file_name
        try:
            table_input = open_input(spec)
            if table_input is None:
                return
            source = table_input.source
            batches = processor.process(table_input)
            while True:
                try:
                    kind, batch = next(batches)
                except StopIteration:
                    break
                counts.seconds += time.perf_counter() - started
                if kind == "rows":
                    yield dlt.mark.with_hints(batch, table_hints, create_table_variant=True)
                else:
                    yield dlt.mark.with_hints(batch, quarantine_hints, create_table_variant=True)
                started = time.perf_counter()
        except InputError as error:
            # Found after its header was read (a database that stopped answering mid-table):
            # the whole load stops and loads nothing, so the warehouse keeps the last good one.
            raise UnreadableSourceError(
                f"{error.source or source} {error}: nothing was loaded; run again once it can be read."
            ) from None
        counts.seconds += time.perf_counter() - started

    return dlt.resource(rows, name=spec.name, write_disposition="merge")


def _columns(hints: dict[str, dict[str, Any]]) -> dict[str, TColumnSchema]:
    return {name: TColumnSchema(**hint) for name, hint in hints.items()}  # type: ignore[typeddict-item]


# ---------------------------------------------------------------------------------------------
# Inputs: a folder of CSV files, or a SQL database


def csv_opener(folder: Path, run: LoadRun) -> InputOpener:
    """Opens `<table>.csv` in `folder`; an optional file may be absent (None), a required one
    missing is an InputError."""

    def open_input(spec: TableSpec) -> TableInput | None:
        path = folder / spec.file_name
        if not path.is_file():
            if spec.optional_input:
                logger.info("%s not in %s: skipped (optional)", spec.file_name, folder)
                return None
            raise InputError(f"is not in {folder}", source=spec.file_name)
        try:
            return read_csv(path)
        except InputError as error:
            raise InputError(str(error), source=path.name) from error
        except OSError as error:
            raise InputError(f"cannot be opened ({error.strerror or error})", source=path.name) from error

    return open_input


def check_folder(folder: Path | None, option: str, specs: Sequence[TableSpec]) -> Path:
    """The folder exists and holds at least one of the expected files, else a UserError."""
    if folder is None:
        raise UserError(f"No folder given: set {option}.")
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: check {option}.")
    if not any((folder / spec.file_name).is_file() for spec in specs):
        expected = ", ".join(spec.file_name for spec in specs)
        raise UserError(f"{folder} holds none of the expected files ({expected}): check {option}.")
    return folder


def sql_engine(url: str) -> sqlalchemy.Engine:
    """An engine for the ERP database, checked by connecting once."""
    try:
        parsed = sqlalchemy.make_url(url)
    except sqlalchemy.exc.ArgumentError as error:
        raise UserError(
            "--erp-sql is not a SQLAlchemy URL: write it like postgresql://user@host:5432/database."
        ) from error
    shown = parsed.render_as_string(hide_password=True)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = 10
    try:
        engine = sqlalchemy.create_engine(parsed, connect_args=connect_args)
    except (sqlalchemy.exc.NoSuchModuleError, ImportError) as error:
        raise UserError(f"No database driver here understands {shown}: check --erp-sql.") from error
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.DBAPIError as error:
        engine.dispose()
        detail = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        if parsed.password:
            detail = detail.replace(str(parsed.password), "***")
        raise ErpDatabaseUnavailableError(
            f"Cannot connect to the ERP database {shown} ({detail}): check --erp-sql or "
            "RECON_ERP_SQL and that the server is running."
        ) from error
    return engine


def sql_opener(engine: sqlalchemy.Engine, run: LoadRun) -> InputOpener:
    """Reads the table (or view) of the spec's name from the database's default schema."""
    inspector = sqlalchemy.inspect(engine)
    available = {n.lower(): n for n in [*inspector.get_table_names(), *inspector.get_view_names()]}

    def open_input(spec: TableSpec) -> TableInput | None:
        name = available.get(spec.name)
        if name is None:
            if spec.optional_input:
                logger.info("no table %s in the ERP database: skipped (optional)", spec.name)
                return None
            raise InputError("is not a table or view of the ERP database", source=spec.name)
        quoted = engine.dialect.identifier_preparer.quote(name)
        connection = engine.connect()
        try:
            result = connection.execution_options(stream_results=True).execute(
                sqlalchemy.text(f"select * from {quoted}")
            )
            header = normalize_header(list(result.keys()))
        except (sqlalchemy.exc.SQLAlchemyError, InputError) as error:
            connection.close()
            raise InputError(f"cannot be read ({error})", source=name) from error

        def close() -> None:
            result.close()
            connection.close()

        def rows() -> Iterator[Sequence[Any]]:
            try:
                for partition in result.partitions(run.batch_rows):
                    yield from partition
            except sqlalchemy.exc.SQLAlchemyError as error:
                raise InputError(f"stopped answering while being read ({error})", source=name) from error
            finally:
                close()

        return TableInput(source=name, header=header, records=sql_records(rows()), close=close)

    return open_input


# ---------------------------------------------------------------------------------------------
# The dlt source and the load


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def erp_source(
    erp_dir: str | None = None,
    erp_sql: str | None = None,
    run: Any = None,
) -> Iterator[DltResource]:
    """The ERP tables from a folder of CSV files (`erp_dir`) or a database URL (`erp_sql`).

    `run` (a `LoadRun`) carries the fingerprints already loaded and collects the counts; without
    it every valid row is sent (the merge keeps the load idempotent all the same).
    """
    load_run: LoadRun = run if isinstance(run, LoadRun) else LoadRun()
    opener: InputOpener
    if erp_dir:
        opener = csv_opener(Path(erp_dir), load_run)
    elif erp_sql:
        opener = sql_opener(sql_engine(erp_sql), load_run)
    else:
        raise UserError("Give the ERP books: --erp-dir DIR (CSV files) or --erp-sql URL.")
    yield from source_resources(TABLES, opener, load_run)


def source_resources(specs: Sequence[TableSpec], opener: InputOpener, run: LoadRun) -> Iterator[DltResource]:
    """One resource per table (an input left stale loads nothing, but its table exists after
    the first load all the same), and the load log's rows when the inputs were checked."""
    for spec in specs:
        problem = run.stale.get(spec.name)
        if problem is None:
            yield table_resource(spec, opener, run)
        else:
            yield table_resource(spec, _nothing_from(problem), run)
    if run.inputs or run.stale:
        yield dlt.resource(
            # fresh hints each load (dlt writes into the hints it is given), as for every table here
            run.log_rows(), name=LOAD_LOG_TABLE, write_disposition="append", columns=_columns(LOAD_LOG_COLUMNS)
        )


def _nothing_from(problem: InputProblem) -> InputOpener:
    def open_input(spec: TableSpec) -> TableInput:
        return TableInput(source=problem.source, header=[c.name for c in spec.columns], records=iter(()))

    return open_input


def check_inputs(
    specs: Sequence[TableSpec],
    opener: InputOpener,
    run: LoadRun,
    *,
    source_name: str,
    title: str,
    allowed: frozenset[str],
    last_loaded: dict[str, datetime],
) -> None:
    """Open every input and read its header, before anything is loaded.

    An input that cannot be read as its table stops the load with one sentence naming it, what
    to do, and how old the warehouse's copy is (UnreadableSourceError, exit 2), unless `allowed`
    names it (`erp`, `erp/payments`): then it is recorded as stale and the load goes on
    without it. The inputs read are recorded in `run.inputs`.
    """
    problems: list[InputProblem] = []
    for spec in specs:
        try:
            table_input = opener(spec)
        except InputError as error:
            problems.append(InputProblem(spec.name, error.source or spec.file_name, str(error)))
            continue
        if table_input is None:
            continue
        table_input.close()
        missing = missing_columns(spec, table_input.header)
        if missing:
            reason = f"misses the required column(s) {', '.join(missing)} in its header"
            problems.append(InputProblem(spec.name, table_input.source, reason))
        else:
            run.inputs[spec.name] = table_input.source
    refused = [p for p in problems if not ({source_name, f"{source_name}/{p.table}"} & allowed)]
    if refused:
        first = refused[0]
        others = "".join(f" (and {p.source} {p.reason})" for p in refused[1:])
        allow = " ".join(f"--allow-missing-source {source_name}/{p.table}" for p in refused)
        raise UnreadableSourceError(
            f"{first.source} {first.reason}{others}, so it cannot be read as the {title} {first.table} "
            f"table: fix it or export it again (UTF-8 CSV with the contract's header) and rerun, or "
            f"pass {allow} to go on without it; the warehouse keeps "
            f"{_last_load_phrase(last_loaded.get(first.table), run.loaded_at)}."
        )
    for problem in problems:
        run.go_on_without(problem, last_loaded.get(problem.table), source_name)


def _last_load_phrase(last: datetime | None, now: datetime) -> str:
    """`its last good load, of 2026-12-01 10:00 UTC (4 days old)`, or that there is none."""
    if last is None:
        return "no earlier load of it"
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    seconds = max(0.0, (now - last).total_seconds())
    if seconds >= 2 * 86400:
        age = f"{seconds / 86400:.0f} days"
    elif seconds >= 2 * 3600:
        age = f"{seconds / 3600:.0f} hours"
    elif seconds >= 120:
        age = f"{seconds / 60:.0f} minutes"
    else:
        age = "under 2 minutes"
    return f"its last good load, of {last.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({age} old)"


def read_last_loads(pipeline: dlt.Pipeline, settings: Settings) -> dict[str, datetime]:
    """When each table's input was last read and loaded, from the load log (none before the
    first load)."""
    try:
        with pipeline.sql_client() as client:
            query = (
                f"select table_name, max(loaded_at) from {client.make_qualified_table_name(LOAD_LOG_TABLE)} "
                f"where status = '{LOADED}' group by table_name"
            )
            try:
                with client.execute_query(query) as cursor:
                    return {str(row[0]): row[1] for row in cursor.fetchall()}
            except DatabaseUndefinedRelation:
                return {}
    except ReconError:
        raise
    except Exception as error:
        raise _warehouse_error(settings, error) from error


def read_fingerprints(
    pipeline: dlt.Pipeline, specs: Sequence[TableSpec], settings: Settings
) -> tuple[dict[str, dict[str, str]], set[str]]:
    """The keys and fingerprints already in the warehouse, and the quarantine's ids."""
    known: dict[str, dict[str, str]] = {}
    quarantine: set[str] = set()
    try:
        with pipeline.sql_client() as client:
            for spec in specs:
                keys = ", ".join(client.escape_column_name(c) for c in spec.primary_key)
                query = (
                    f"select {keys}, {client.escape_column_name(FINGERPRINT_COLUMN)} "
                    f"from {client.make_qualified_table_name(spec.name)}"
                )
                known[spec.name] = _fetch(client, query, lambda row: ("|".join(row[:-1]), row[-1]))
            query = (
                f"select {client.escape_column_name(QUARANTINE_KEY)} "
                f"from {client.make_qualified_table_name(QUARANTINE_TABLE)}"
            )
            quarantine = set(_fetch(client, query, lambda row: (row[0], "")))
    except ReconError:
        raise
    except Exception as error:
        raise _warehouse_error(settings, error) from error
    return known, quarantine


def _fetch(
    client: Any, query: str, pair: Callable[[Sequence[Any]], tuple[str, str]]
) -> dict[str, str]:
    try:
        with client.execute_query(query) as cursor:
            return dict(pair(row) for row in cursor.fetchall())
    except DatabaseUndefinedRelation:
        return {}


def _warehouse_error(settings: Settings, error: BaseException) -> ReconError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if settings.target == "postgres":
        return SourceUnavailableError(
            f"Cannot use the PostgreSQL warehouse {describe_postgres()} ({detail}): "
            "check RECON_PG_HOST, RECON_PG_PORT, RECON_PG_USER and RECON_PG_DATABASE."
        )
    return UserError(
        f"Cannot open the warehouse {settings.warehouse} ({detail}): check --warehouse and that "
        "no other process is writing to it."
    )


@contextlib.contextmanager
def _dlt_load_id_on_arrow() -> Iterator[None]:
    """Arrow rows get dlt's `_dlt_load_id` too (lineage to `_dlt_loads`), for this load only."""
    name = "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"
    previous = os.environ.get(name)
    os.environ[name] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def load_tables(
    source: DltSource,
    *,
    pipeline: dlt.Pipeline,
    run: LoadRun,
    report_name: str,
    settings: Settings,
) -> LoadReport:
    """Run `source` through `pipeline` as parquet and report what each table did."""
    started = time.perf_counter()
    try:
        with _dlt_load_id_on_arrow():
            pipeline.run(source, loader_file_format="parquet", table_format=destinations.table_format(settings))
    except PipelineStepFailed as error:
        cause = destinations.root_cause(error)
        if isinstance(cause, ReconError):
            raise cause from error
        raise
    report = LoadReport(source=report_name, seconds=time.perf_counter() - started)
    new_quarantine = 0
    for name, counts in run.counts.items():
        table = report.table(name)
        table.new_rows = counts.new
        table.updated_rows = counts.updated
        table.quarantined_rows = counts.quarantined
        table.unchanged_rows = counts.unchanged
        table.seconds = counts.seconds
        table.skipped_sources = run.skipped.get(name, 0)
        if name in run.stale:
            table.stale = True
        new_quarantine += counts.new_quarantine
    report.table(QUARANTINE_TABLE).new_rows = new_quarantine
    report.messages.extend(run.messages)
    for table in report.tables:
        logger.info(
            "%s.%s: %d new, %d updated, %d unchanged, %d quarantined",
            report_name,
            table.table,
            table.new_rows,
            table.updated_rows,
            table.unchanged_rows,
            table.quarantined_rows,
        )
    return report


def load_erp(settings: Settings, *, pipelines_dir: Path | None = None) -> LoadReport:
    """Load the ERP books of `settings.erp_dir` or `settings.erp_sql` into `raw_erp`."""
    if settings.erp_dir and settings.erp_sql:
        raise UserError("Give the ERP books once: either --erp-dir or --erp-sql, not both.")
    if settings.erp_dir is None and settings.erp_sql is None:
        raise UserError(
            "No ERP books given: set --erp-dir DIR (CSV files) or --erp-sql URL "
            "(or RECON_ERP_DIR / RECON_ERP_SQL)."
        )
    pipeline = destinations.pipeline(
        PIPELINE_NAME, DATASET_NAME, settings, pipelines_dir=pipelines_dir
    )
    known, known_quarantine = read_fingerprints(pipeline, TABLES, settings)
    run = LoadRun(known=known, known_quarantine=known_quarantine)
    _check_erp(settings, pipeline, run)
    source = erp_source(
        erp_dir=str(settings.erp_dir) if settings.erp_dir else None,
        erp_sql=settings.erp_sql,
        run=run,
    )
    return load_tables(source, pipeline=pipeline, run=run, report_name="erp", settings=settings)


def _check_erp(settings: Settings, pipeline: dlt.Pipeline, run: LoadRun) -> None:
    check_allowed_names(settings.allow_missing_sources, SOURCE_NAME, TABLES)
    engine: sqlalchemy.Engine | None = None
    if settings.erp_dir is not None:
        check_folder(settings.erp_dir, "--erp-dir (RECON_ERP_DIR)", TABLES)
        opener = csv_opener(settings.erp_dir, run)
    else:
        assert settings.erp_sql is not None
        engine = sql_engine(settings.erp_sql)
        opener = sql_opener(engine, run)
    try:
        check_inputs(
            TABLES,
            opener,
            run,
            source_name=SOURCE_NAME,
            title="ERP's",
            allowed=settings.allow_missing_sources,
            last_loaded=read_last_loads(pipeline, settings),
        )
    finally:
        if engine is not None:
            engine.dispose()


def check_allowed_names(names: frozenset[str], source_name: str, specs: Sequence[TableSpec]) -> None:
    tables = {spec.name for spec in specs}
    for name in sorted(names):
        prefix, _, table = name.partition("/")
        if prefix == source_name and table and table not in tables:
            known = ", ".join(f"{source_name}/{t}" for t in sorted(tables))
            raise UserError(f"--allow-missing-source {name}: {source_name} has no such input; name one of {known}.")
