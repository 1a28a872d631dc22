"""The review page's decisions into `raw_decisions`, beside the CSV decisions (docs/contract.md 3b).

The review page (`recon review`) records every decision in its own append-only store; `recon run`
reads from it the decisions in force (per pair and per exception, the latest not undone) and
hands them here. Each load replaces the two tables whole, so an undone decision leaves them:
`review_match_decisions` and `review_exception_resolutions`, the contract's columns plus the
decision's id and its hash in the store's chain. Staging unions them with the CSV tables.

Each load also appends the chain's head it verified (row count, last row's hash) to
`review_chain_heads`: a chain hashed row by row cannot show that its last rows were cut off, so
the next load checks that the store still holds that head (recon.review.store.read_for_load).
The auto-accept policy's log gets the same: each load appends its head (change count, last row's
hash) to `review_policy_heads`, and the policy is applied only from a log that still holds it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.extract.resource import DltResource

from core.settings import Settings
from ingest import destinations
from ingest.decisions.settings import DATASET_NAME
from ingest.report import LoadReport

PIPELINE_NAME = "recon_review_decisions"
SOURCE_NAME = "review_decisions"
MATCH_TABLE = "review_match_decisions"
RESOLUTION_TABLE = "review_exception_resolutions"
HEAD_TABLE = "review_chain_heads"
POLICY_HEAD_TABLE = "review_policy_heads"

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
HEAD_COLUMNS: dict[str, tuple[str, bool]] = {
    "decision_count": ("bigint", False),
    "last_row_hash": ("text", False),
    "_loaded_at": ("timestamp", False),
}
POLICY_HEAD_COLUMNS: dict[str, tuple[str, bool]] = {
    "policy_change_count": ("bigint", False),
    "last_row_hash": ("text", False),
    "_loaded_at": ("timestamp", False),
}


def _hints(columns: dict[str, tuple[str, bool]]) -> dict[str, Any]:
    # A fresh dict per column and call: dlt writes into the hints it is given.
    return {name: {"name": name, "data_type": kind, "nullable": nullable} for name, (kind, nullable) in columns.items()}


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def review_source(
    matches: Sequence[dict[str, object]],
    resolutions: Sequence[dict[str, object]],
    loaded_at: dt.datetime,
    head: tuple[int, str] | None = None,
    policy_head: tuple[int, str] | None = None,
) -> Iterator[DltResource]:
    """Both tables, replaced whole (an empty list empties its table), and the verified chain heads
    (decision count or policy change count, last row's hash) appended to the heads' tables."""
    for name, rows, columns in (
        (MATCH_TABLE, matches, MATCH_COLUMNS),
        (RESOLUTION_TABLE, resolutions, RESOLUTION_COLUMNS),
    ):
        stamped = [{**row, "_loaded_at": loaded_at} for row in rows]
        yield dlt.resource(stamped, name=name, write_disposition="replace", columns=_hints(columns))
    if head is not None:
        row = {"decision_count": head[0], "last_row_hash": head[1], "_loaded_at": loaded_at}
        yield dlt.resource([row], name=HEAD_TABLE, write_disposition="append", columns=_hints(HEAD_COLUMNS))
    if policy_head is not None:
        row = {"policy_change_count": policy_head[0], "last_row_hash": policy_head[1], "_loaded_at": loaded_at}
        yield dlt.resource(
            [row], name=POLICY_HEAD_TABLE, write_disposition="append", columns=_hints(POLICY_HEAD_COLUMNS)
        )


def read_loaded_head(settings: Settings, *, pipelines_dir: Path | None = None) -> tuple[int, str] | None:
    """The chain head (decision count, last row's hash) the warehouse's latest load of the review's
    decisions verified; None before the first load that recorded one."""
    return _latest_head(settings, HEAD_TABLE, "decision_count", pipelines_dir)


def read_loaded_policy_head(settings: Settings, *, pipelines_dir: Path | None = None) -> tuple[int, str] | None:
    """The policy log's head (change count, last row's hash) the warehouse's latest load recorded;
    None before the first load that recorded one."""
    return _latest_head(settings, POLICY_HEAD_TABLE, "policy_change_count", pipelines_dir)


def _latest_head(settings: Settings, table_name: str, count: str, pipelines_dir: Path | None) -> tuple[int, str] | None:
    pipeline = destinations.pipeline(PIPELINE_NAME, DATASET_NAME, settings, pipelines_dir=pipelines_dir)
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(table_name)
            query = f"select {count}, last_row_hash from {table} order by _loaded_at desc, {count} desc"
            with client.execute_query(query) as cursor:
                found = cursor.fetchone()
    except DatabaseUndefinedRelation:  # no load recorded a head yet (or no raw_decisions at all)
        return None
    return (int(found[0]), str(found[1])) if found else None


def load_review_decisions(
    settings: Settings,
    matches: Sequence[dict[str, object]],
    resolutions: Sequence[dict[str, object]],
    *,
    head: tuple[int, str] | None = None,
    policy_head: tuple[int, str] | None = None,
    pipelines_dir: Path | None = None,
) -> LoadReport:
    """Replace `raw_decisions.review_*` with the review's decisions in force; record `head`, the
    chain head they were verified at (decision count, last row's hash), and `policy_head`, the
    policy log's head verified with them."""
    started = time.perf_counter()
    pipeline = destinations.pipeline(PIPELINE_NAME, DATASET_NAME, settings, pipelines_dir=pipelines_dir)
    pipeline.run(
        review_source(matches, resolutions, dt.datetime.now(dt.UTC), head, policy_head),
        table_format=destinations.table_format(settings),
    )
    report = LoadReport(source="review decisions", seconds=time.perf_counter() - started)
    report.table(MATCH_TABLE).new_rows = len(matches)
    report.table(RESOLUTION_TABLE).new_rows = len(resolutions)
    report.messages.append(
        f"The review's decisions in force: {len(matches)} pair(s), {len(resolutions)} resolution(s) "
        "(both tables replaced whole)."
    )
    return report
