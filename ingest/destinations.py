"""The warehouse as a dlt destination, and dlt pipelines that keep their files in the project.

Shared by every source (ERP, decisions, Stripe). The target decides the destination:

- `duckdb`: the DuckDB file at `settings.warehouse` (its folder is created);
- `postgres`: the server of `core.warehouse.postgres_credentials`;
- `spark`: the lake (`core.spark.lake_dir`: RECON_LAKE_PATH, else `<warehouse stem>.lake`), dlt's
  filesystem destination writing Delta tables (`table_format="delta"`, merged on the primary key
  like the databases' tables); `ingest.lake` then registers them in Spark's catalog.

dlt's working folder (state, schemas, load packages) is `<warehouse folder>/.dlt_pipelines/<warehouse name>`
unless the caller gives one: never the user's home.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination import Destination

from core.errors import ReconError, UserError
from core.settings import Settings
from core.spark import lake_dir
from core.warehouse import postgres_credentials
from ingest.lake import install_offline_reads

TARGETS = ("duckdb", "postgres", "spark")
PIPELINES_DIR_NAME = ".dlt_pipelines"


def destination(settings: Settings, env: Mapping[str, str] | None = None) -> Destination[Any, Any]:
    """The dlt destination of `settings.target`."""
    if settings.target == "duckdb":
        settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(credentials=str(settings.warehouse))
    if settings.target == "postgres":
        return dlt.destinations.postgres(credentials=postgres_credentials(env))
    if settings.target == "spark":
        lake = lake_dir(settings, env)
        lake.mkdir(parents=True, exist_ok=True)
        install_offline_reads()
        return dlt.destinations.filesystem(bucket_url=str(lake))
    raise UserError(
        f"Unknown target {settings.target!r}: use one of {', '.join(TARGETS)} "
        "(--target or RECON_TARGET)."
    )


def table_format(settings: Settings) -> Any:
    """The table format every load passes to dlt (`pipeline.run(..., table_format=...)`): Delta
    on the lake of the spark target, the database's own tables (None) elsewhere."""
    return "delta" if settings.target == "spark" else None


def default_pipelines_dir(settings: Settings) -> Path:
    """dlt's working folder for this warehouse: beside the warehouse file, one per warehouse.

    Two DuckDB files in one folder keep separate incremental state; a PostgreSQL warehouse
    keeps its own by the pipeline name, which carries the target.
    """
    return settings.warehouse.parent / PIPELINES_DIR_NAME / settings.warehouse.stem


def pipeline(
    name: str,
    dataset_name: str,
    settings: Settings,
    *,
    pipelines_dir: Path | None = None,
) -> dlt.Pipeline:
    """A dlt pipeline loading `dataset_name` into the warehouse of `settings`.

    The pipeline name carries the target, so a DuckDB and a PostgreSQL warehouse loaded from one
    project keep separate state.
    """
    folder = pipelines_dir or default_pipelines_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"{name}_{settings.target}",
        destination=destination(settings),
        dataset_name=dataset_name,
        pipelines_dir=str(folder),
    )


def root_cause(error: BaseException) -> BaseException:
    """Under dlt's PipelineStepFailed, the first of our own errors (ReconError: a bad file, an API
    that did not answer) raised inside a resource, else the innermost cause."""
    seen: set[int] = set()
    current: BaseException = error
    while id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ReconError):
            return current
        nxt = current.__cause__ or current.__context__
        if nxt is None:
            return current
        current = nxt
    return current
