"""Where the checks run: the DuckDB file, the PostgreSQL target or Spark, as Great Expectations sees it.

DuckDB and Great Expectations 1.24: GX runs a query on a pooled SQLAlchemy connection, closes
the connection (which rolls its transaction back) and only then fetches the rows. A DuckDB
connection is also its own cursor, so the rollback discards the pending result and every
expectation errors (`'NoneType' object is not subscriptable`). The way around it uses public
SQLAlchemy API only: one read-only DuckDB connection (a `StaticPool` fed by our `creator`)
whose `begin`, `commit` and `rollback` do nothing. Nothing is ever written, so every statement
simply runs in DuckDB's own autocommit and its rows survive until GX reads them.
tests/checks/test_warehouse.py runs a real GX validation through it, so an upgrade of GX,
SQLAlchemy or duckdb-engine that breaks it fails there first.

PostgreSQL needs nothing special: GX's own `postgres` datasource, the connection from the
RECON_PG_* variables, the password (if any) left in the environment and substituted by GX
(`${DBT_ENV_SECRET_RECON_PG_PASSWORD}`), so it never appears in a config or a report.

Spark: GX's Spark datasource on the process's one SparkSession (core.spark), which GX's
SparkDFExecutionEngine finds as the active session (`getOrCreate`, no configuration of its own
given, so nothing restarts it); a table is a dataframe asset, handed its `spark.table(...)` when
its validation runs (checks/validate.py). No SQLAlchemy engine.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from duckdb_engine import ConnectionWrapper
from sqlalchemy.pool import StaticPool

from core.currencies import exponents
from core.errors import SourceUnavailableError, UserError
from core.settings import Settings
from core.spark import session, spark_dir  # pyspark itself is imported by session(), on Spark only
from core.warehouse import connect_duckdb, describe_postgres, postgres_credentials, tables_in

log = logging.getLogger(__name__)

PASSWORD_VARIABLE = "DBT_ENV_SECRET_RECON_PG_PASSWORD"
# The schemas the checks read (dbt builds intermediate and marts).
SCHEMAS = ("raw_stripe", "raw_erp", "raw_decisions", "intermediate", "marts")


def _duckdb_wrapper_class() -> type[Any]:
    class ReadOnlyAutocommitConnection(ConnectionWrapper):
        """A DuckDB connection whose transaction calls are no-ops (see the module's doc)."""

        def begin(self) -> None:
            return None

        def commit(self) -> None:
            return None

        def rollback(self) -> None:
            return None

    return ReadOnlyAutocommitConnection


@dataclass
class Warehouse:
    """A connection to the warehouse of `settings`, and what GX needs to reach it."""

    target: str
    description: str  # for messages: the file, or user@host:port/database (never a password)
    connection_string: str  # for GX; a password only as ${VARIABLE}
    engine_kwargs: dict[str, Any]
    engine: sa.Engine | None  # None on Spark
    schema_prefix: str
    settings: Settings | None = None  # Spark: its session and catalog are the settings'

    def schema(self, name: str) -> str:
        return f"{self.schema_prefix}{name}"

    def existing_tables(self) -> set[str]:
        """`schema.table` of every table and view, schemas without their prefix."""
        wanted = {self.schema(name): name for name in SCHEMAS}
        if self.engine is None:
            assert self.settings is not None
            rows: Any = tables_in(self.settings, list(wanted))
        else:
            query = sa.text("select table_schema, table_name from information_schema.tables")
            with self.engine.connect() as connection:
                rows = connection.execute(query).fetchall()
        return {f"{wanted[schema]}.{table}" for schema, table in rows if schema in wanted}

    def spark_table(self, relation: str) -> Any:
        """Spark: the table `schema.table` (schema without its prefix) as a DataFrame."""
        assert self.settings is not None and self.target == "spark"
        schema, table = relation.split(".", 1)
        return _spark_session(self.settings).table(f"{self.schema(schema)}.{table}")

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _duckdb(settings: Settings, prefix: str) -> Warehouse:
    path = settings.warehouse
    raw = connect_duckdb(
        settings,
        read_only=True,
        not_found_hint=(
            "load it first (`recon demo`, or `recon ingest` and `dbt build`), or point --warehouse / "
            "RECON_WAREHOUSE at it."
        ),
    )
    connection = _duckdb_wrapper_class()(raw)

    def creator() -> Any:
        return connection

    kwargs: dict[str, Any] = {"poolclass": StaticPool, "creator": creator}
    url = f"duckdb:///{path}"
    return Warehouse(
        target="duckdb",
        description=str(path),
        connection_string=url,
        engine_kwargs=kwargs,
        engine=sa.create_engine(url, **kwargs),
        schema_prefix=prefix,
    )


def _postgres(prefix: str) -> Warehouse:
    c = postgres_credentials()
    auth = quote(str(c["username"]), safe="")
    secret = os.environ.get(PASSWORD_VARIABLE)
    where = f"{c['host']}:{c['port']}/{quote(str(c['database']), safe='')}"
    gx_url = f"postgresql+psycopg2://{auth}{':${' + PASSWORD_VARIABLE + '}' if secret else ''}@{where}"
    engine_url = sa.URL.create(
        "postgresql+psycopg2",
        username=str(c["username"]),
        password=secret or None,
        host=str(c["host"]),
        port=int(c["port"]),
        database=str(c["database"]),
    )
    kwargs: dict[str, Any] = {"connect_args": {"connect_timeout": int(c["connect_timeout"])}}
    engine = sa.create_engine(engine_url, **kwargs)
    description = describe_postgres()
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        engine.dispose()
        raise SourceUnavailableError(
            f"Cannot reach the PostgreSQL warehouse {description}: {str(error.orig).strip().splitlines()[0]} "
            "(check RECON_PG_HOST, RECON_PG_PORT, RECON_PG_USER, RECON_PG_DATABASE)."
        ) from error
    return Warehouse(
        target="postgres",
        description=description,
        connection_string=gx_url,
        engine_kwargs=kwargs,
        engine=engine,
        schema_prefix=prefix,
    )


def _spark_session(settings: Settings) -> Any:
    return session(settings)


def _spark(settings: Settings, prefix: str) -> Warehouse:

    _spark_session(settings)  # the session starts here: a missing Java or pyspark is a UserError
    return Warehouse(
        target="spark",
        description=f"Spark catalog {spark_dir(settings)}",
        connection_string="",
        engine_kwargs={},
        engine=None,
        schema_prefix=prefix,
        settings=settings,
    )


def connect(settings: Settings) -> Warehouse:
    """Opens the warehouse of `settings` for reading. UserError/SourceUnavailableError: exit 2."""
    prefix = os.environ.get("RECON_SCHEMA_PREFIX", "")
    if settings.target == "duckdb":
        return _duckdb(settings, prefix)
    if settings.target == "postgres":
        return _postgres(prefix)
    if settings.target == "spark":
        return _spark(settings, prefix)
    raise UserError(f"Unknown target {settings.target!r}: use duckdb, postgres or spark (--target or RECON_TARGET).")


@contextmanager
def connected(settings: Settings) -> Iterator[Warehouse]:
    warehouse = connect(settings)
    try:
        yield warehouse
    finally:
        warehouse.close()


def currencies_values() -> str:
    """The currency seed as a VALUES relation: currency, exponent, factor (10 ** exponent)."""
    rows = ", ".join(f"('{code}', {exp}, {10 ** exp})" for code, exp in sorted(exponents().items()))
    return f"(values {rows}) as currencies (currency, exponent, factor)"
