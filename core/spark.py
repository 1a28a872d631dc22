"""The Spark target: one local SparkSession per process, and where its catalog and lake live.

dbt-spark's `session` method runs every statement through `SparkSession.builder.getOrCreate()`,
so the session made here first (with the settings below) is the one dbt, the lake's tables, the
classifier and the match scorer all use: one JVM per process, never one per step.

Where things live, for a warehouse path `warehouse/recon.duckdb` (the `--warehouse` setting names
the warehouse on every target; on Spark only its folder and stem are used):

- `warehouse/recon.spark/`: the Spark catalog (a Derby metastore, `metastore_db`) and the managed
  tables dbt builds (`spark-warehouse`): what `dbt build` writes;
- `warehouse/recon.lake/` (or RECON_LAKE_PATH): the raw Delta tables dlt writes, one folder per
  dataset and table (`raw_stripe/charges`), registered in the catalog by `ingest.lake`.

profiles.yml's `spark` output derives the same folders from RECON_WAREHOUSE, so a plain
`dbt build --target spark` finds the same catalog.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.settings import Settings

log = logging.getLogger(__name__)

# What a local session sets (a cluster's own settings win there: see README, "Spark").
LOCAL_CONFIG: Mapping[str, str] = {
    "spark.master": "local[2]",
    "spark.app.name": "recon",
    # Every timestamp is UTC, as on DuckDB and PostgreSQL: dates of times must not move.
    "spark.sql.session.timeZone": "UTC",
    # A small machine's data: 200 shuffle partitions (Spark's default) would be 200 tasks a join.
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
}


def spark_dir(settings: Settings) -> Path:
    """The Spark catalog's folder of this warehouse (metastore and dbt's managed tables)."""
    return settings.warehouse.with_suffix(".spark")


def lake_dir(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """The lake's folder: RECON_LAKE_PATH, else `<warehouse stem>.lake` beside the warehouse."""
    env = os.environ if env is None else env
    configured = env.get("RECON_LAKE_PATH")
    if configured:
        return Path(configured).expanduser().resolve()
    return settings.warehouse.with_suffix(".lake")


def java_available() -> bool:
    """Whether a `java` (Spark's JVM) is on the PATH or under JAVA_HOME."""
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and (Path(home) / "bin" / "java").exists()))


def session_config(settings: Settings) -> dict[str, str]:
    """The settings of the local session for this warehouse."""
    folder = spark_dir(settings)
    return {
        **LOCAL_CONFIG,
        "spark.sql.warehouse.dir": str(folder / "spark-warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true"
        ),
        # Derby writes derby.log into the working directory unless told otherwise.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
    }


def session(settings: Settings) -> Any:
    """The process's SparkSession: the active one, else a local one for `settings`' warehouse.

    pyspark is the optional extra `spark`; without it this raises UserError saying so.
    A session already running keeps its catalog: Spark reads its warehouse and metastore settings
    once, when the JVM starts, so one process serves one Spark warehouse (the tests start theirs
    first, for the whole test session)."""
    try:
        # start-up time: pyspark (and the spark extra) only for the spark target
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError(
            "The spark target needs pyspark: pip install -c constraints.txt -e '.[spark]' (make install does)."
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        wanted = session_config(settings)["spark.sql.warehouse.dir"]
        if str(active.conf.get("spark.sql.warehouse.dir", "")).removeprefix("file:") != wanted:
            log.info("Spark: reusing this process's session (warehouse %s), not %s",
                     active.conf.get("spark.sql.warehouse.dir", ""), wanted)
        return active
    if not java_available():
        raise UserError(
            "The spark target needs Java 17 or newer (Spark's JVM): install a JDK (Debian: "
            "openjdk-17-jre-headless) or set JAVA_HOME."
        )
    spark_dir(settings).mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport()
    for name, value in session_config(settings).items():
        builder = builder.config(name, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


_NOT_FOUND = ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND", "DATABASE_NOT_FOUND")
_TYPES = (
    (re.compile(r"\bdouble precision\b", re.IGNORECASE), "double"),
    (re.compile(r"\btimestamp with time zone\b", re.IGNORECASE), "timestamp"),
    (re.compile(r"\b(varchar|text|json)\b", re.IGNORECASE), "string"),
    (re.compile(r"\bnumeric\(", re.IGNORECASE), "decimal("),
    (re.compile(r"\s+primary key\b|\s+not null\b", re.IGNORECASE), ""),
)
_CREATE_TABLE = re.compile(r"^\s*create table (if not exists )?(\S+) \(", re.IGNORECASE)
_ADD_COLUMN = re.compile(r"^\s*alter table (\S+) add column if not exists (\S+) (.+)$", re.IGNORECASE)
_DELETE = re.compile(r"^\s*delete from (\S+)(?: where (.+))?$", re.IGNORECASE | re.DOTALL)


def is_missing_relation(error: BaseException) -> bool:
    """Whether a Spark error says a table or schema does not exist."""
    condition = getattr(error, "getCondition", lambda: None)() or ""
    return any(name in condition or name in str(error) for name in _NOT_FOUND)


class SparkStatements:
    """The statements the Python steps write with (core.warehouse.Connection), run on Spark.

    What the tables beside dbt's need and a parquet table does not have is done another way:
    `create table` gets Spark's types and `using parquet`; `alter table ... add column if not
    exists` looks at the columns first; `delete from t` is `truncate table t`, and `delete ...
    where` keeps the other rows and writes them back (the ml tables are small: weights, a
    registry, a row per exception). There are no transactions: a step that fails half-way
    leaves its table half-written until its next run rewrites it.
    """

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    def _sql(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.spark.sql(sql, args=list(params)) if params else self.spark.sql(sql)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Runs one statement; a query's DataFrame is returned."""
        if _CREATE_TABLE.match(sql):
            ddl = sql
            for pattern, spelled in _TYPES:
                ddl = pattern.sub(spelled, ddl)
            return self._sql(f"{ddl} using parquet", params)
        if added := _ADD_COLUMN.match(sql):
            table, column, kind = added.groups()
            if column.lower() not in [name.lower() for name in self.spark.table(table).columns]:
                for pattern, spelled in _TYPES:
                    kind = pattern.sub(spelled, kind)
                self.spark.sql(f"alter table {table} add columns ({column} {kind})")
            return None
        if deleted := _DELETE.match(sql):
            table, condition = deleted.groups()
            if condition is None:
                return self.spark.sql(f"truncate table {table}")
            kept = self._sql(f"select * from {table} where not coalesce({condition}, false)", params)
            rows, schema = kept.collect(), kept.schema
            self.spark.sql(f"truncate table {table}")
            if rows:
                self.spark.createDataFrame(rows, schema).write.insertInto(table)
            return None
        if sql.strip().lower() in ("begin", "commit", "rollback"):
            return None
        return self._sql(sql, params)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Appends `rows` to `table`'s `columns` (one write, not a statement a row)."""
        types = {field.name: field.dataType.simpleString() for field in self.spark.table(table).schema.fields}
        kinds = [types[name] for name in columns]
        # Decimals travel as their text (a float is refused by a decimal field) and are cast back;
        # numbers to doubles and integers as Spark's fields take them.
        schema = ", ".join(f"`{name}` {'string' if kind.startswith('decimal') else kind}" for name, kind in zip(columns, kinds, strict=True))
        values = [tuple(_coerce(value, kind) for value, kind in zip(row, kinds, strict=True)) for row in rows]
        frame = self.spark.createDataFrame(values, schema)
        view = "recon_rows_to_insert"
        frame.createOrReplaceTempView(view)
        selected = ", ".join(
            f"cast(`{name}` as {kind})" if kind.startswith("decimal") else f"`{name}`"
            for name, kind in zip(columns, kinds, strict=True)
        )
        try:
            self.spark.sql(f"insert into {table} ({', '.join(columns)}) select {selected} from {view}")
        finally:
            self.spark.catalog.dropTempView(view)



def _coerce(value: Any, kind: str) -> Any:
    """A Python value as a field of Spark type `kind` accepts it."""
    if value is None:
        return None
    if kind.startswith("decimal"):
        return str(value)
    if kind in ("double", "float"):
        return float(value)
    if kind in ("bigint", "int", "smallint", "tinyint"):
        return int(value)
    return value
