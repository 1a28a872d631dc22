"""The marts for BI on DuckDB: a read-only copy beside the warehouse, replaced whole after each build.

DuckDB lets one process write a file, and a process cannot open it for writing while another
holds it open, even read-only. A BI tool polling the warehouse, or holding a connection open,
therefore made micro-batches fail, and a micro-batch under way made its reads fail. So BI reads
a copy instead: `<warehouse stem>.bi.duckdb` beside the warehouse, or the file `--bi-copy`
(RECON_BI_COPY) names, holding the schema `marts` as tables, and `recon_meta.publication`, one
row saying when and by what the copy was published.

After each build of the marts (`recon run`, `recon classify`, a micro-batch of `recon serve`)
the writer, still holding the warehouse's writer lock (recon.locking), writes a new copy to a
temporary file in the same folder (DuckDB itself: the warehouse opened read-only, the new file
attached, one `create table ... as select` per relation, so a view is materialized), flushes it
to disk and renames it over the old one (`os.replace`, atomic on one file system). A reader
that opens the copy read-only never waits for the writer and never makes it wait: a reader
connecting after the rename gets the new file; a connection already open keeps reading the old
one (Linux keeps an open file's inode) until it is closed. DuckDB shares one database per file
path within a process, so a process sees the new copy once every connection it had to the old
one is closed.

PostgreSQL needs none of this (readers never block writers there): nothing is published.
See DECISIONLOG.md, "The marts for BI: a copy replaced whole".
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from core.warehouse import connect_duckdb, schema

log = logging.getLogger(__name__)

PUBLISHED_SCHEMAS = ("marts",)  # what the README tells BI users to read (a prefix applies)
META_SCHEMA = "recon_meta"
META_TABLE = "publication"
_ATTACHED = "recon_bi_copy_being_written"


@dataclass(frozen=True)
class Publication:
    """One copy published: where, how many relations, its size and how long it took."""

    path: Path
    relations: int
    size_bytes: int
    seconds: float
    published_at: dt.datetime

    def render(self) -> str:
        return (
            f"BI copy: {self.path} ({self.relations} relations, {self.size_bytes / 1_048_576:.1f} MB) "
            f"published in {self.seconds:.2f} s; BI opens it read-only"
        )


def bi_copy_path(settings: Settings) -> Path:
    """The file BI reads on DuckDB: `--bi-copy` (RECON_BI_COPY), by default `<warehouse stem>.bi.duckdb`
    beside the warehouse."""
    if settings.bi_copy is not None:
        return settings.bi_copy
    return settings.warehouse.with_name(settings.warehouse.stem + ".bi.duckdb")


def publish_bi_copy(
    settings: Settings, *, published_by: str, webhook_batch_id: int | None = None
) -> Publication | None:
    """Replace the BI copy with the warehouse's marts as they are now.

    The caller holds the warehouse's writer lock, so that the copy is one state of the marts and
    no other publisher writes beside it. Returns None on PostgreSQL, and when the marts are not
    built yet (nothing to publish; the old copy, if any, stays). `published_by` and
    `webhook_batch_id` (the last micro-batch whose events the copy holds) go into
    `recon_meta.publication`.
    """
    if settings.target != "duckdb":
        return None
    started = time.monotonic()
    target = bi_copy_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.tmp*"):  # left by a publisher that died
        stale.unlink(missing_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    published_at = dt.datetime.now(dt.UTC)
    schemas = [schema(name) for name in PUBLISHED_SCHEMAS]
    connection = connect_duckdb(settings, read_only=True)
    try:
        relations = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_catalog = current_database() and table_schema in ({', '.join('?' for _ in schemas)}) "
            "order by table_schema, table_name",
            schemas,
        ).fetchall()
        if not relations:
            log.info("BI copy not published: %s holds no marts yet", settings.warehouse)
            return None
        connection.execute(f"attach {_literal(str(temporary))} as {_ATTACHED} (read_write)")
        try:
            for name in sorted({str(row[0]) for row in relations}):
                connection.execute(f"create schema {_ATTACHED}.{_identifier(name)}")
            for schema_name, table in relations:
                qualified = f"{_identifier(str(schema_name))}.{_identifier(str(table))}"
                connection.execute(
                    f"create table {_ATTACHED}.{qualified} as select * from {qualified}"
                )
            connection.execute(f"create schema {_ATTACHED}.{META_SCHEMA}")
            connection.execute(
                f"create table {_ATTACHED}.{META_SCHEMA}.{META_TABLE} as select "
                "?::timestamptz as published_at, ?::varchar as published_by, ?::bigint as webhook_batch_id",
                [published_at, published_by, webhook_batch_id],
            )
        finally:
            connection.execute(f"detach {_ATTACHED}")  # checkpoints: the file is whole, no .wal
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        connection.close()
    _fsync(temporary)
    os.replace(temporary, target)
    _fsync(target.parent)  # the rename itself survives a crash
    publication = Publication(
        path=target,
        relations=len(relations),
        size_bytes=target.stat().st_size,
        seconds=time.monotonic() - started,
        published_at=published_at,
    )
    log.info("%s", publication.render())
    return publication


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
