"""Reading the warehouse of a target (DuckDB file or PostgreSQL) from Python, for summaries."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from recon.errors import UserError
from recon.settings import Settings


def schema(name: str) -> str:
    """A dbt schema's name as built (RECON_SCHEMA_PREFIX applies to every schema)."""
    return f"{os.environ.get('RECON_SCHEMA_PREFIX', '')}{name}"


def fetch_all(settings: Settings, queries: Sequence[str]) -> list[list[tuple[Any, ...]]]:
    """Runs each query and returns its rows. Missing relations raise UserError (not built)."""
    if settings.target == "duckdb":
        import duckdb

        if not settings.warehouse.exists():
            raise UserError(f"Warehouse {settings.warehouse} not found: run `recon run` or `recon demo` first.")
        # Same configuration as dbt-duckdb's in-process connection, so both can be open at once.
        con = duckdb.connect(str(settings.warehouse))
        try:
            return [con.execute(query).fetchall() for query in queries]
        except duckdb.CatalogException as error:
            raise UserError(f"The marts are not built in {settings.warehouse} ({error}): run `dbt build`.") from None
        finally:
            con.close()
    if settings.target == "postgres":
        import psycopg2

        from ingest.destinations import postgres_credentials

        c = postgres_credentials()
        try:
            connection = psycopg2.connect(
                host=c["host"],
                port=c["port"],
                user=c["username"],
                dbname=c["database"],
                password=c.get("password") or None,
                connect_timeout=10,
            )
        except psycopg2.OperationalError as error:
            raise UserError(f"Cannot reach the PostgreSQL warehouse: {str(error).strip()}") from None
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
    raise UserError(f"Unknown target {settings.target!r}: use duckdb or postgres.")
