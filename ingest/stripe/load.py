"""`recon ingest stripe`: run the Stripe source into `raw_stripe` and say what it did."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from dlt.pipeline.exceptions import PipelineStepFailed

from core.errors import ReconError, SourceUnavailableError, UserError
from core.settings import Settings
from ingest import destinations, lake
from ingest.report import LoadReport
from ingest.stripe import (
    COMPOSITION_TABLE,
    CONTENT_HASH,
    OBSERVED_AT,
    QUARANTINE_TABLE,
    stripe_source,
)
from ingest.stripe.helpers import StripeReader
from ingest.stripe.settings import MAX_ATTEMPTS, RESOURCES

log = logging.getLogger(__name__)

PIPELINE_NAME = "recon_stripe"
DATASET = "raw_stripe"
# Each table's key, for the lake's deduplication within a load (ingest.lake.deduplicate_pending).
LAKE_KEYS: dict[str, tuple[str, ...]] = {
    **{table: ("id",) for table in RESOURCES},
    COMPOSITION_TABLE: ("payout_id", "balance_transaction_id"),
}


def load_stripe(
    settings: Settings,
    *,
    pipelines_dir: Path | None = None,
    workers: int = 8,
    max_rps: float | None = None,
    resources: Sequence[str] | None = None,
    now: int | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> LoadReport:
    """Load every Stripe object new or changed since the last run into `raw_stripe`.

    A bad key stops before anything is extracted; a run that fails part-way loads nothing and
    keeps the previous state, so the next run resumes where the last completed one ended.
    """
    started = time.monotonic()
    if not settings.stripe_api_key:
        raise UserError("STRIPE_API_KEY is not set: export a Stripe secret or restricted read-only key.")
    reader = StripeReader(
        api_key=settings.stripe_api_key,
        api_base=settings.stripe_api_base,
        max_rps=max_rps or settings.stripe_max_rps,
        workers=workers,
        max_attempts=max_attempts,
        timeout_s=settings.stripe_timeout,
    )
    reader.check_access()

    report = LoadReport(source="stripe")
    seen: dict[str, dict[str, str]] = {}
    pipeline = destinations.pipeline(PIPELINE_NAME, DATASET, settings, pipelines_dir=pipelines_dir)
    on_lake = destinations.table_format(settings) == "delta"
    source = stripe_source(
        reader, resources=resources, now=now, report=report, seen=seen, quarantined=_quarantine_ids(pipeline),
        merge_strategy="upsert" if on_lake else "delete-insert",
    )
    # An interrupted run (killed during its load) leaves packages that this run's load completes:
    # the report counts rows by what the tables hold before and after, so they are counted too.
    resumed = pipeline.has_pending_data
    before = _row_counts(pipeline)
    try:
        pipeline.extract(source, loader_file_format="parquet", table_format=destinations.table_format(settings))
        existing = _existing_hashes(pipeline, seen)
        pipeline.normalize()
        if on_lake:
            lake.deduplicate_pending(pipeline, LAKE_KEYS, OBSERVED_AT)
        pipeline.load()
    except PipelineStepFailed as failure:
        _abort(pipeline)
        cause = destinations.root_cause(failure)
        if isinstance(cause, ReconError):
            raise cause from None
        raise SourceUnavailableError(f"Stripe ingestion failed at step {failure.step}: {cause}") from None

    after = _row_counts(pipeline)
    read_new = 0
    for entry in report.tables:
        loaded_ids = entry.new_rows
        previous = existing.get(entry.table, {})
        hashes = seen.get(entry.table, {})
        entry.updated_rows = sum(1 for key, old in previous.items() if hashes.get(key) not in (None, old))
        read_new += loaded_ids - len(previous)
    for table, count in sorted(after.items()):
        grown = count - before.get(table, 0)
        if grown or any(entry.table == table for entry in report.tables):
            report.table(table).new_rows = grown
    pending = sum(after.values()) - sum(before.values()) - read_new
    if resumed:
        report.messages.append(
            f"resumed: completed the load an interrupted run had left pending ({max(pending, 0):,} rows "
            "beyond what this run read)"
        )
    report.seconds = time.monotonic() - started
    report.messages.append(f"requests made: {reader.total_requests}")
    return report


def _row_counts(pipeline: Any) -> dict[str, int]:
    """Rows per table of the dataset (dlt's own tables left out); none before the first load."""
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        with client.execute_query(
            "select table_name from information_schema.tables where table_schema = %s", client.dataset_name
        ) as cursor:
            tables = sorted(str(row[0]) for row in cursor.fetchall() if not str(row[0]).startswith("_dlt"))
        for table in tables:
            with client.execute_query(f"select count(*) from {client.make_qualified_table_name(table)}") as cursor:
                counts[table] = int(cursor.fetchall()[0][0])
    return counts


def _existing_hashes(pipeline: Any, seen: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The stored content hash of every row the run may have read again, per table."""
    found = stored_values(pipeline, seen, CONTENT_HASH)
    return {table: {key: str(value) for key, value in values.items()} for table, values in found.items()}


def _quarantine_ids(pipeline: Any) -> set[str]:
    """The ids `raw_stripe.quarantine` already holds (none before anything was quarantined)."""
    with pipeline.sql_client() as client:
        with client.execute_query(
            "select 1 from information_schema.tables where table_schema = %s and table_name = %s",
            client.dataset_name,
            QUARANTINE_TABLE,
        ) as cursor:
            if not cursor.fetchall():
                return set()
        query = f"select quarantine_id from {client.make_qualified_table_name(QUARANTINE_TABLE)}"
        with client.execute_query(query) as cursor:
            return {str(row[0]) for row in cursor.fetchall()}


def stored_values(pipeline: Any, keys: Mapping[str, Collection[str]], column: str) -> dict[str, dict[str, Any]]:
    """`column` of the stored rows with the given keys, per table (`id`; the composition's
    `payout_id|balance_transaction_id`); tables not in the warehouse yet are left out."""
    existing: dict[str, dict[str, Any]] = {}
    with pipeline.sql_client() as client:
        with client.execute_query(
            "select table_name from information_schema.tables where table_schema = %s", client.dataset_name
        ) as cursor:
            stored_tables = {str(row[0]) for row in cursor.fetchall()}
        for table, candidates in keys.items():
            if not candidates or table not in stored_tables:
                continue
            key = "id" if table != "payout_balance_transactions" else "payout_id || '|' || balance_transaction_id"
            found: dict[str, Any] = {}
            ordered = sorted(candidates)
            for start in range(0, len(ordered), 1000):
                chunk = ordered[start : start + 1000]
                placeholders = ", ".join(["%s"] * len(chunk))
                query = (
                    f"select {key}, {column} from {client.make_qualified_table_name(table)} "
                    f"where {key} in ({placeholders})"
                )
                with client.execute_query(query, *chunk) as cursor:
                    found.update({str(row[0]): row[1] for row in cursor.fetchall()})
            existing[table] = found
    return existing


def _abort(pipeline: Any) -> None:
    try:
        pipeline.abort_packages()
    except Exception as error:  # nothing pending, or already clean
        log.debug("abort_packages: %s", type(error).__name__)

