"""dlt source of the team's decisions (docs/contract.md section 3b): CSV files -> `raw_decisions`.

The same machinery as the ERP load (`ingest.erp`): merge on each table's key, unchanged rows not
sent again, bad rows (a decision other than confirmed/rejected, a time that is not ISO 8601 with
a zone, a missing required value, a pair seen before) to `raw_decisions.quarantine`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from core.errors import UserError
from core.settings import Settings
from ingest import destinations
from ingest.decisions.settings import DATASET_NAME, PIPELINE_NAME, SOURCE_NAME, TABLES
from ingest.erp import (
    LoadRun,
    check_allowed_names,
    check_folder,
    check_inputs,
    csv_opener,
    load_tables,
    read_fingerprints,
    read_last_loads,
    source_resources,
)
from ingest.report import LoadReport

__all__ = ["decisions_source", "load_decisions"]


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def decisions_source(decisions_dir: str | None = None, run: Any = None) -> Iterator[DltResource]:
    """`match_decisions.csv` and `exception_resolutions.csv` from `decisions_dir` (each optional)."""
    if not decisions_dir:
        raise UserError("No decisions folder given: set --decisions-dir (RECON_DECISIONS_DIR).")
    load_run: LoadRun = run if isinstance(run, LoadRun) else LoadRun()
    opener = csv_opener(Path(decisions_dir), load_run)
    yield from source_resources(TABLES, opener, load_run)


def load_decisions(settings: Settings, *, pipelines_dir: Path | None = None) -> LoadReport:
    """Load the decisions of `settings.decisions_dir` into `raw_decisions`."""
    folder = check_folder(settings.decisions_dir, "--decisions-dir (RECON_DECISIONS_DIR)", TABLES)
    pipeline = destinations.pipeline(
        PIPELINE_NAME, DATASET_NAME, settings, pipelines_dir=pipelines_dir
    )
    known, known_quarantine = read_fingerprints(pipeline, TABLES, settings)
    run = LoadRun(known=known, known_quarantine=known_quarantine)
    check_allowed_names(settings.allow_missing_sources, SOURCE_NAME, TABLES)
    check_inputs(
        TABLES,
        csv_opener(folder, run),
        run,
        source_name=SOURCE_NAME,
        title="decisions'",
        allowed=settings.allow_missing_sources,
        last_loaded=read_last_loads(pipeline, settings),
    )
    source = decisions_source(decisions_dir=str(folder), run=run)
    return load_tables(
        source, pipeline=pipeline, run=run, report_name="decisions", settings=settings
    )
