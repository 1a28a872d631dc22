"""The review page's decisions into `raw_decisions`, beside the CSV decisions (docs/contract.md 3b).

The review page (`recon review`) records every decision in its own append-only store; `recon run`
reads from it the decisions in force (per pair and per exception, the latest not undone) and
hands them here. Each load replaces the two tables whole, so an undone decision leaves them:
`review_match_decisions` and `review_exception_resolutions`, the contract's columns plus the
decision's id and its hash in the store's chain. Staging unions them with the CSV tables.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from core.settings import Settings
from ingest import destinations
from ingest.decisions.settings import DATASET_NAME
from ingest.report import LoadReport

PIPELINE_NAME = "recon_review_decisions"
SOURCE_NAME = "review_decisions"
MATCH_TABLE = "review_match_decisions"
RESOLUTION_TABLE = "review_exception_resolutions"

# column -> (dlt data type, nullable); every column is created, even when no row fills it
MATCH_COLUMNS: dict[str, tuple[str, bool]] = {
    "match_decision_key": ("text", False),
    "stripe_object_id": ("text", False),
    "erp_document_number": ("text", True),
    "erp_payment_number": ("text", True),
    "erp_journal_number": ("text", True),
    "decision": ("text", False),
    "decided_at": ("timestamp", False),
    "decided_by": ("text", True),
    "decision_id": ("text", False),
    "row_hash": ("text", False),
    "_loaded_at": ("timestamp", False),
}
RESOLUTION_COLUMNS: dict[str, tuple[str, bool]] = {
    "object_id": ("text", False),
    "exception_type": ("text", False),
    "disposition": ("text", False),
    "resolved_at": ("timestamp", False),
    "resolved_by": ("text", True),
    "note": ("text", True),
    "exception_id": ("text", True),
    "decision_id": ("text", False),
    "row_hash": ("text", False),
    "_loaded_at": ("timestamp", False),
}


def _hints(columns: dict[str, tuple[str, bool]]) -> dict[str, Any]:
    # A fresh dict per column and call: dlt writes into the hints it is given.
    return {name: {"name": name, "data_type": kind, "nullable": nullable} for name, (kind, nullable) in columns.items()}


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def review_source(
    matches: Sequence[dict[str, object]], resolutions: Sequence[dict[str, object]], loaded_at: dt.datetime
) -> Iterator[DltResource]:
    """Both tables, replaced whole (an empty list empties its table)."""
    for name, rows, columns in (
        (MATCH_TABLE, matches, MATCH_COLUMNS),
        (RESOLUTION_TABLE, resolutions, RESOLUTION_COLUMNS),
    ):
        stamped = [{**row, "_loaded_at": loaded_at} for row in rows]
        yield dlt.resource(stamped, name=name, write_disposition="replace", columns=_hints(columns))


def load_review_decisions(
    settings: Settings,
    matches: Sequence[dict[str, object]],
    resolutions: Sequence[dict[str, object]],
    *,
    pipelines_dir: Path | None = None,
) -> LoadReport:
    """Replace `raw_decisions.review_*` with the review's decisions in force."""
    started = time.perf_counter()
    pipeline = destinations.pipeline(PIPELINE_NAME, DATASET_NAME, settings, pipelines_dir=pipelines_dir)
    pipeline.run(review_source(matches, resolutions, dt.datetime.now(dt.UTC)))
    report = LoadReport(source="review decisions", seconds=time.perf_counter() - started)
    report.table(MATCH_TABLE).new_rows = len(matches)
    report.table(RESOLUTION_TABLE).new_rows = len(resolutions)
    report.messages.append(
        f"The review's decisions in force: {len(matches)} pair(s), {len(resolutions)} resolution(s) "
        "(both tables replaced whole)."
    )
    return report
