"""The warehouse of a target (DuckDB file, PostgreSQL or Spark): its credentials and connections.

PostgreSQL is the server named by RECON_PG_HOST (127.0.0.1), RECON_PG_PORT (5432), RECON_PG_USER
(postgres), RECON_PG_DATABASE (test), with the password, if any, in
DBT_ENV_SECRET_RECON_PG_PASSWORD (the variable dbt's profile reads too).
Spark is the process's one SparkSession (core.spark), its catalog beside the warehouse path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg2
import psycopg2.extras

from core.errors import MissingRelationError, SourceUnavailableError, UserError
from core.settings import Settings

NOT_FOUND_HINT = "run `recon run` or `recon demo` first."


def schema(name: str) -> str:
    """A dbt schema's name as built (RECON_SCHEMA_PREFIX applies to every schema)."""
    return f"{os.environ.get('RECON_SCHEMA_PREFIX', '')}{name}"


def postgres_credentials(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The PostgreSQL warehouse's connection settings from the environment."""
    env = os.environ if env is None else env
    port = env.get("RECON_PG_PORT") or "5432"
    if not port.isdigit():
        raise UserError(f"RECON_PG_PORT must be a port number, not {port!r}.")
    credentials: dict[str, Any] = {
        "host": env.get("RECON_PG_HOST") or "127.0.0.1",
        "port": int(port),
        "username": env.get("RECON_PG_USER") or "postgres",
        "database": env.get("RECON_PG_DATABASE") or "test",
        "connect_timeout": 10,
    }
    # dlt wants a password field; an empty one means none (trust or peer authentication).
    credentials["password"] = env.get("DBT_ENV_SECRET_RECON_PG_PASSWORD") or ""
    return credentials


def describe_postgres(env: Mapping[str, str] | None = None) -> str:
    """`user@host:port/database`, for messages (never the password)."""
    c = postgres_credentials(env)
    return f"{c['username']}@{c['host']}:{c['port']}/{c['database']}"


def connect_duckdb(
    settings: Settings, *, read_only: bool, not_found_hint: str = NOT_FOUND_HINT
) -> duckdb.DuckDBPyConnection:
    """A connection to the DuckDB file `settings.warehouse`; the caller closes it.

    Why one opener: DuckDB keeps one database per file in a process and refuses a second
    connection to it with a different configuration ("Can't open a connection to same database
    file with a different configuration"). dbt-duckdb opens the file read-write with the default
    configuration while dbt runs in this process (`recon.dbt.run_dbt` closes it when dbt
    returns), and other connections of the process may still be open; so every open here uses
    that same default configuration.

    `read_only=False` opens it read-write with that configuration; DuckDB's errors (another
    process holds the file) go to the caller as they are. `read_only=True` opens it read-only,
    so other readers may share the file; when this process already holds it read-write (dbt
    ran in it) DuckDB hands it out only in that configuration, so it falls back to it. A
    read-only open fails while another process writes the file: SourceUnavailableError.
    A missing file is a UserError: "Warehouse ... not found: <not_found_hint>".
    """
    path = settings.warehouse
    if not path.exists():
        raise UserError(f"Warehouse {path} not found: {not_found_hint}")
    if not read_only:
        return duckdb.connect(str(path))
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException as error:
        if "different configuration" not in str(error):
            raise _busy(path, error) from error
        return duckdb.connect(str(path))
    except duckdb.Error as error:
        raise _busy(path, error) from error


def _busy(path: Path, error: Exception) -> SourceUnavailableError:
    return SourceUnavailableError(
        f"Cannot open {path} read-only ({error}); another process may be writing it: "
        "wait for it to finish and try again."
    )


def connect_postgres() -> Any:
    """A psycopg2 connection to the PostgreSQL warehouse (RECON_PG_* settings, the password from
    DBT_ENV_SECRET_RECON_PG_PASSWORD); the caller closes it. Unreachable: UserError."""
    c = postgres_credentials()
    try:
        return psycopg2.connect(
            host=c["host"],
            port=c["port"],
            user=c["username"],
            dbname=c["database"],
            password=c.get("password") or None,
            connect_timeout=10,
        )
    except psycopg2.OperationalError as error:
        raise UserError(f"Cannot reach the PostgreSQL warehouse: {str(error).strip()}") from None


def fetch_all(settings: Settings, queries: Sequence[str]) -> list[list[tuple[Any, ...]]]:
    """Runs each query and returns its rows. Missing relations raise UserError (not built)."""
    if settings.target == "duckdb":
        con = connect_duckdb(settings, read_only=False)
        try:
            return [con.execute(query).fetchall() for query in queries]
        except duckdb.CatalogException as error:
            raise UserError(f"The marts are not built in {settings.warehouse} ({error}): run `dbt build`.") from None
        finally:
            con.close()
    if settings.target == "postgres":
        connection = connect_postgres()
        try:
            with connection.cursor() as cursor:
                results = []
                for query in queries:
                    cursor.execute(query)
                    results.append(cursor.fetchall())
                return results
        except psycopg2.errors.UndefinedTable as error:
            raise UserError(f"The marts are not built in PostgreSQL ({str(error).strip()}): run `dbt build`.") from None
        finally:
            connection.close()
    if settings.target == "spark":
        spark = _spark_module().session(settings)
        try:
            return [[tuple(row) for row in spark.sql(query).collect()] for query in queries]
        except Exception as error:
            if _spark_module().is_missing_relation(error):
                raise UserError(f"The marts are not built on Spark ({str(error).splitlines()[0]}): run `dbt build`.") from None
            raise
    raise UserError(f"Unknown target {settings.target!r}: use duckdb, postgres or spark.")


def tables_in(settings: Settings, schemas: Sequence[str]) -> set[tuple[str, str]]:
    """(schema, table) of every table and view of `schemas` (names as built, prefix included).

    DuckDB and PostgreSQL list them in `information_schema.tables`; Spark has no information
    schema: its catalog lists them (temporary views left out, a schema not created is empty)."""
    if not schemas:
        return set()
    if settings.target == "spark":
        spark = _spark_module().session(settings)
        found = set()
        for name in schemas:
            if spark.catalog.databaseExists(name):
                found |= {
                    (name, str(table.name)) for table in spark.catalog.listTables(name) if not table.isTemporary
                }
        return found
    listed = ", ".join(f"'{name}'" for name in schemas)
    (rows,) = fetch_all(
        settings, [f"select table_schema, table_name from information_schema.tables where table_schema in ({listed})"]
    )
    return {(str(schema_), str(table)) for schema_, table in rows}


def _spark_module() -> Any:
    # start-up time: core.spark loads pyspark (the optional extra `spark`) only for the spark target
    from core import spark

    return spark


class Connection:
    """One connection to the warehouse of a target (DuckDB or PostgreSQL) with the few operations
    the Python steps that write tables beside dbt's need (the classifier, the match scorer), the
    same on both: statements take `?` placeholders; a relation that does not exist raises
    MissingRelationError; frames have DuckDB's column types (PostgreSQL's numerics, which psycopg2
    reads as Decimal, become floats, as DuckDB's `.df()` gives its decimals). Statements commit
    one by one unless inside `transaction()`. The caller closes it (or uses it as a context manager).
    """

    def __init__(self, raw: Any, target: str) -> None:
        self.raw = raw
        self.target = target
        self._result: Any = None  # Spark: the last statement's DataFrame

    @classmethod
    def open(cls, settings: Settings) -> Connection:
        """A read-write connection to the warehouse of `settings.target` (open DuckDB after dbt finished)."""
        if settings.target == "duckdb":
            return cls(connect_duckdb(settings, read_only=False), "duckdb")
        if settings.target == "postgres":
            raw = connect_postgres()
            raw.autocommit = True  # as DuckDB's: transactions only where `transaction()` says so
            return cls(raw, "postgres")
        if settings.target == "spark":
            # The process's one SparkSession; statements through core.spark.SparkStatements.
            spark = _spark_module()
            return cls(spark.SparkStatements(spark.session(settings)), "spark")
        raise UserError(f"Unknown target {settings.target!r}: use duckdb, postgres or spark.")

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.target != "spark":  # the session is the process's, not this connection's
            self.raw.close()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        # DuckDB: the connection itself (a DuckDB cursor is another connection, outside this one's
        # transaction); Spark: its statements; psycopg2: a cursor of it.
        if self.target in ("duckdb", "spark"):
            yield self.raw
            return
        cursor = self.raw.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.target == "postgres" else sql

    def _run(self, cursor: Any, sql: str, params: Sequence[Any] = ()) -> None:
        if self.target == "spark":
            try:
                self._result = cursor.execute(sql, params)
            except Exception as error:
                if _spark_module().is_missing_relation(error):
                    raise MissingRelationError(str(error).splitlines()[0]) from None
                raise
            return
        try:
            cursor.execute(self._sql(sql), tuple(params) if params else None)
        except (duckdb.CatalogException, psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName) as error:
            raise MissingRelationError(str(error).strip()) from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._cursor() as cursor:
            self._run(cursor, sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.target == "spark":
            self._run(self.raw, sql, params)
            return [tuple(row) for row in self._result.collect()]
        with self._cursor() as cursor:
            self._run(cursor, sql, params)
            return [tuple(row) for row in cursor.fetchall()]

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        if self.target == "duckdb":
            self._run(self.raw, sql, params)
            return self.raw.df()
        if self.target == "spark":
            self._run(self.raw, sql, params)
            names = list(self._result.columns)
            frame = pd.DataFrame.from_records([tuple(row) for row in self._result.collect()], columns=names)
            for name, kind in self._result.dtypes:
                if kind == "timestamp" or kind == "timestamp_ntz":
                    frame[name] = pd.to_datetime(frame[name])
        else:
            with self._cursor() as cursor:
                self._run(cursor, sql, params)
                names = [column.name for column in cursor.description]
                frame = pd.DataFrame.from_records(cursor.fetchall(), columns=names)
        for name in names:
            values = frame[name]
            if values.dtype == object and values.map(lambda v: isinstance(v, Decimal)).any():
                frame[name] = values.map(lambda v: None if v is None else float(v)).astype("float64")
        return frame

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Appends `rows` (Python values) to `table`'s `columns`."""
        if not rows:
            return
        if self.target == "spark":
            self.raw.insert(table, columns, rows)
            return
        with self._cursor() as cursor:
            if self.target == "postgres":
                psycopg2.extras.execute_values(
                    cursor, f"insert into {table} ({', '.join(columns)}) values %s", rows, page_size=1000
                )
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(f"insert into {table} ({', '.join(columns)}) values ({marks})", rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The block's statements commit together, or none does."""
        self.execute("begin")
        try:
            yield
        except BaseException:
            self.execute("rollback")
            raise
        self.execute("commit")
