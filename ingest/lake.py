"""The lake of the spark target: Delta tables dlt writes, read back offline, registered in Spark.

dlt's filesystem destination writes each raw table as a Delta table (through `deltalake`, no JVM)
and merges on its key. Two things on this machine need more than dlt gives, because nothing but
PyPI is reachable:

- dlt reads a Delta table back (the loads read the keys and fingerprints already stored) through
  DuckDB's `delta` extension, which DuckDB downloads on first use: `install_offline_reads` makes
  those reads take the table's current files from its Delta log instead (deltalake's
  `file_uris()`, read with DuckDB's `read_parquet`): the same rows, no download.
- Spark reads Delta tables only with Delta's jars, which come from Maven (delta-spark's wheel holds
  none). `register_in_spark` therefore first removes the files no version of the table needs
  any more (a VACUUM keeping nothing: the lake keeps no history), so the table's folder holds
  exactly its current rows, and registers it as an external parquet table at that folder. A
  Spark with Delta's jars (a cluster) reads the same folder as Delta (`format="delta"`).

Tables written by deltalake have no deletion vectors (it rewrites files), which both reads assume;
a table that has them is refused rather than read wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from dlt.destinations.impl.filesystem.sql_client import FilesystemSqlClient

from core.errors import ReconError

log = logging.getLogger(__name__)

# The raw datasets dlt writes, as folders of the lake and schemas (databases) of Spark's catalog.
DATASETS = ("raw_stripe", "raw_erp", "raw_decisions", "raw_bank")
DELTA_LOG = "_delta_log"

_original_create_view_select = FilesystemSqlClient.create_view_select


def _checked(table: DeltaTable, where: str) -> DeltaTable:
    features = table.protocol().reader_features or []
    if "deletionVectors" in features:
        raise ReconError(
            f"The Delta table {where} has deletion vectors (written by another engine): the lake's "
            "offline readers would read rows it deleted. Rewrite it without them (REORG ... APPLY PURGE)."
        )
    return table


def _offline_create_view_select(self: Any, table_schema: Any, schema: Any = None) -> Any:
    """dlt's view over a Delta table, reading the table's current files with read_parquet."""
    made = _original_create_view_select(self, table_schema, schema)
    if made is None:
        return None
    location, select = made
    scan = f"delta_scan('{location.rstrip('/')}')"
    if scan not in select:
        return made
    table = _checked(DeltaTable(location.rstrip("/")), location)
    files = table.file_uris()
    if not files:
        # An empty Delta table: no file to read the columns from, so the table's schema gives them.
        columns = ", ".join(f"null::varchar as \"{field.name}\"" for field in table.schema().fields)
        return location, f"SELECT {columns} WHERE false"
    listed = ", ".join("'" + str(uri).replace("'", "''") + "'" for uri in files)
    return location, select.replace(scan, f"read_parquet([{listed}], union_by_name=true)")


def install_offline_reads() -> None:
    """dlt's reads of Delta tables through DuckDB without its `delta` extension (idempotent)."""
    FilesystemSqlClient.create_view_select = _offline_create_view_select  # type: ignore[method-assign]


def delta_tables(lake: Path, dataset: str) -> list[Path]:
    """The Delta tables of a dataset's folder (dlt's own tables, `_dlt_*`, are not Delta)."""
    folder = lake / dataset
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / DELTA_LOG).is_dir() and not p.name.startswith("_"))


def vacuum(table_dir: Path) -> int:
    """Deletes the files no version needs but the current one; returns how many."""
    table = _checked(DeltaTable(str(table_dir)), str(table_dir))
    removed = table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    return len(removed)


def spark_columns(table_dir: Path) -> str:
    """The table's columns as Spark DDL, from its Delta log (`id string, amount long, ...`)."""
    fields = json.loads(DeltaTable(str(table_dir)).schema().to_json())["fields"]
    for field in fields:
        if not isinstance(field["type"], str):
            raise ReconError(f"The Delta table {table_dir} has a nested column {field['name']!r}: not a raw table of dlt's.")
    return ", ".join(f"`{field['name']}` {field['type']}" for field in fields)


def _registered(spark: Any, database: str, table: str) -> tuple[str, Path | None] | None:
    """The columns (as `spark_columns` writes them) and the folder of a table already in Spark's
    catalog; None when it is not there."""
    name = f"`{database}`.`{table}`"
    if not spark.catalog.tableExists(name):
        return None
    columns = ", ".join(f"`{field.name}` {field.dataType.simpleString()}" for field in spark.table(name).schema.fields)
    location = next(
        (str(row["data_type"]) for row in spark.sql(f"describe table extended {name}").collect() if row["col_name"] == "Location"),
        None,
    )
    return columns, None if location is None else Path(location.removeprefix("file:")).resolve()


def register_in_spark(spark: Any, lake: Path, *, schema_prefix: str = "", table_format: str = "parquet") -> list[str]:
    """Every Delta table of the lake as a table of Spark's catalog, `<prefix><dataset>.<table>`,
    at its folder; returns their names. Re-registered on every call: a load may add columns."""
    names: list[str] = []
    for dataset in DATASETS:
        tables = delta_tables(lake, dataset)
        if not tables:
            continue
        database = f"{schema_prefix}{dataset}"
        spark.sql(f"create database if not exists `{database}`")
        for table_dir in tables:
            if table_format == "parquet":
                vacuum(table_dir)
            name = f"`{database}`.`{table_dir.name}`"
            location = str(table_dir.resolve()).replace("'", "\\'")
            # The columns as the Delta log declares them (Delta's types are Spark's): a file written
            # before a column was added reads it as null, and an empty table still has its columns.
            columns = "" if table_format == "delta" else spark_columns(table_dir)
            # The same columns at the same folder: only the files changed. Another folder (another
            # lake path, another world in the same session's catalog) is registered anew.
            if columns and (columns, table_dir.resolve()) == _registered(spark, database, table_dir.name):
                spark.sql(f"refresh table {name}")
            else:
                spark.sql(f"drop table if exists {name}")
                declared = f" ({columns})" if columns else ""
                spark.sql(f"create table {name}{declared} using {table_format} location '{location}'")
            names.append(f"{database}.{table_dir.name}")
    log.info("Spark: %d lake tables registered from %s", len(names), lake)
    return names


def deduplicate_pending(pipeline: Any, keys: Mapping[str, Sequence[str]], newest: str) -> int:
    """Keeps, in the normalized packages waiting to load, one row per key of each table in `keys`:
    the one with the greatest `newest` (the first of equals). Returns the rows dropped.

    dlt's `delete-insert` merge does this on a database (`dedup_sort`); its Delta merge (`upsert`)
    does not, and a key twice in one load would be inserted twice, or fail to merge. A Stripe load
    often reads an object twice (an event's snapshot and a listing)."""
    dropped = 0
    for load_id in pipeline.list_normalized_load_packages():
        info = pipeline.get_load_package_info(load_id)
        files: dict[str, list[Path]] = {}
        for job in info.jobs.get("new_jobs", []):
            table = job.job_file_info.table_name
            if table in keys and job.job_file_info.file_format == "parquet":
                files.setdefault(table, []).append(Path(job.file_path))
        for table, paths in files.items():
            data = pa.concat_tables([pq.read_table(path) for path in paths], promote_options="default")
            key = list(keys[table])
            if newest not in data.column_names or len(data) == 0:
                continue
            indexed = data.append_column("__row", pa.array(range(len(data)), pa.int64()))
            ordered = indexed.sort_by([*[(name, "ascending") for name in key], (newest, "descending"), ("__row", "ascending")])
            first = ordered.group_by(key, use_threads=False).aggregate([("__row", "first")])
            keep = pc.sort_indices(first.column("__row_first"))
            rows = pc.take(first.column("__row_first"), keep)
            if len(rows) == len(data):
                continue
            dropped += len(data) - len(rows)
            pq.write_table(data.take(rows), paths[0])
            for path in paths[1:]:
                path.unlink()
    return dropped
