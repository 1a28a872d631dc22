"""Stripe webhook events into `raw_stripe`: the objects they carry, never an older state over a newer.

Webhooks arrive at least once and in any order. Each event carries a snapshot of one object
(`data.object`) as it was at the event's `created`; the snapshot lands in that object's raw
table with `_observed_at` = the event's time, and only when it is newer than the row already
there, whether that row came from an earlier event or from a list read of `recon ingest stripe`.
Stripe's `created` is in seconds and several events about one object may share a second (a
charge succeeding and being refunded at once): within a second the object's own lifecycle
decides (`state_rank`: a refunded charge is later than a succeeded one, a paid payout later than
an in-transit one), added as milliseconds. The event itself lands in `events`, a balance in
`balance_snapshots`, a dispute's balance transactions in `balance_transactions`.

Everything goes through the same table hints as the batch ingestion, so the two paths write the
same columns and types; one dlt pipeline of its own keeps the webhook loads' packages apart. The
micro-batcher on DuckDB passes the connection it holds, and rows whose tables dlt has already
made with their columns go in through it (`_write_in`), dlt's merge in SQL, without dlt's
pipeline machinery.
See DECISIONLOG.md ("Webhooks: one writer, micro-batches").
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
from dlt.destinations.exceptions import DestinationConnectionError
from dlt.extract.items import DataItemWithMeta
from dlt.pipeline.exceptions import PipelineStepFailed

from core.errors import SourceUnavailableError
from core.settings import Settings
from ingest import destinations
from ingest.stripe import OBSERVED_AT, QUARANTINE_TABLE, Batcher, Quarantine
from ingest.stripe.helpers import UnfitObject, whole_number
from ingest.stripe.load import stored_values
from ingest.stripe.settings import EVENT_OBJECT_TABLES, RESOURCES, ColumnType

log = logging.getLogger(__name__)

PIPELINE_NAME = "recon_stripe_webhooks"
DATASET = "raw_stripe"
BALANCE_TABLE = "balance_snapshots"
BALANCE_SNAPSHOT_COLUMNS: dict[str, ColumnType] = {
    "event_id": "text", "created": "bigint", "livemode": "bool", "available": "json", "pending": "json",
}

# Within one second, the later states of an object's lifecycle (higher is later).
_STATUS_RANK: Mapping[str, Mapping[str, int]] = {
    "charges": {"pending": 0, "failed": 1, "succeeded": 1},
    "payouts": {"pending": 0, "in_transit": 1, "paid": 2, "failed": 3, "canceled": 3},
    "disputes": {
        "warning_needs_response": 0, "needs_response": 0, "warning_under_review": 1, "under_review": 1,
        "warning_closed": 2, "won": 2, "lost": 2,
    },
    "invoices": {"draft": 0, "open": 1, "paid": 2, "uncollectible": 2, "void": 2},
    "refunds": {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2},
    "payment_intents": {
        "requires_payment_method": 0, "requires_confirmation": 0, "requires_action": 0,
        "processing": 1, "requires_capture": 1, "succeeded": 2, "canceled": 2,
    },
}


def state_rank(table: str, obj: Mapping[str, Any]) -> int:
    """How far along its lifecycle an object is, 0 to 99: breaks ties between events of one second."""
    rank = 10 * _STATUS_RANK.get(table, {}).get(str(obj.get("status")), 0)
    if table == "charges":
        refunded = whole_number(obj.get("amount_refunded")) or 0  # a malformed amount ranks as none
        rank += (1 if refunded else 0) + (1 if obj.get("refunded") else 0) + (2 if obj.get("disputed") else 0)
    return min(rank, 99)


def observed_at_ms(event: Mapping[str, Any], table: str, obj: Mapping[str, Any]) -> int:
    """When the event's snapshot of `obj` was true: the event's second, plus its lifecycle rank."""
    return int(event["created"]) * 1000 + state_rank(table, obj)


@dataclass
class ApplyReport:
    """What one micro-batch did to the raw tables."""

    events: int = 0
    applied: dict[str, int] = field(default_factory=dict)  # table -> rows written
    stale: int = 0  # snapshots older than (or the same as) the state already stored
    unknown: int = 0  # events carrying an object no table holds (counted, kept in `events`)
    quarantined: int = 0  # objects a table cannot hold: in raw_stripe.quarantine, with the reason
    by_dlt: str = ""  # why dlt wrote the rows though a connection was given (apply_events)
    seconds: float = 0.0

    @property
    def tables(self) -> set[str]:
        """The object tables a rebuild must start from (not `events`, which no model reads)."""
        changed = {table for table, rows in self.applied.items() if rows and table != "events"}
        return changed | ({QUARANTINE_TABLE} if self.quarantined else set())

    def render(self) -> str:
        parts = ", ".join(f"{table} {rows}" for table, rows in sorted(self.applied.items()) if rows)
        return (
            f"{self.events} events: {parts or 'nothing new'}; {self.stale} older snapshots skipped"
            + (f"; {self.unknown} of no table" if self.unknown else "")
            + (f"; {self.quarantined} quarantined (raw_stripe.quarantine)" if self.quarantined else "")
            + (f"; written by dlt: {self.by_dlt}" if self.by_dlt else "")
        )


@dataclass
class _Candidate:
    obj: dict[str, Any]
    observed_at: int
    event_id: str


def _candidates(events: Sequence[Mapping[str, Any]], report: ApplyReport) -> dict[str, dict[str, _Candidate]]:
    """The newest snapshot of every object the events carry, per table."""
    newest: dict[str, dict[str, _Candidate]] = {}

    def offer(table: str, obj: dict[str, Any], observed: int, event_id: str) -> None:
        known = newest.setdefault(table, {}).get(str(obj["id"]))
        if known is None or observed > known.observed_at:
            newest[table][str(obj["id"])] = _Candidate(obj, observed, event_id)
        else:
            report.stale += 1

    for event in events:
        data_object = (event.get("data") or {}).get("object") or {}
        kind = str(data_object.get("object"))
        if kind == "balance":
            continue
        table = EVENT_OBJECT_TABLES.get(kind)
        if table is None or not data_object.get("id") or data_object.get("deleted"):
            report.unknown += 1
            continue
        offer(table, data_object, observed_at_ms(event, table, data_object), str(event["id"]))
        if table == "disputes":
            # A dispute carries its balance transactions (the withdrawal and any reinstatement).
            for txn in data_object.get("balance_transactions") or []:
                if isinstance(txn, dict) and txn.get("id"):
                    offer("balance_transactions", txn, int(event["created"]) * 1000, str(event["id"]))
    return newest


def _rows(
    events: Sequence[Mapping[str, Any]], winners: Mapping[str, Mapping[str, _Candidate]], report: ApplyReport
) -> Iterator[Any]:
    # An object its table cannot hold (a value its column cannot store) goes to the quarantine
    # with its event as the source, as in the batch load: one bad object never blocks a batch.
    quarantine = Quarantine()

    def add(batch: Batcher, obj: dict[str, Any], observed_at: int, event_id: str) -> Iterator[Any]:
        try:
            yield from batch.add(obj, observed_at)
        except UnfitObject as error:
            report.quarantined += 1
            yield from quarantine.add(batch.table, obj, str(error), f"webhook event {event_id}")

    for table, by_id in winners.items():
        batch = Batcher(table, RESOURCES[table][1], "id")
        for candidate in by_id.values():
            yield from add(batch, candidate.obj, candidate.observed_at, candidate.event_id)
        yield from batch.flush()
        report.applied[table] = batch.count
    event_rows = Batcher("events", RESOURCES["events"][1], "id")
    balances = Batcher(BALANCE_TABLE, BALANCE_SNAPSHOT_COLUMNS, "event_id")
    for event in events:
        event_id = str(event["id"])
        yield from add(event_rows, dict(event), int(event["created"]) * 1000, event_id)
        data_object = (event.get("data") or {}).get("object") or {}
        if data_object.get("object") == "balance":
            snapshot = {
                "event_id": event_id,
                "created": event["created"],
                "livemode": data_object.get("livemode"),
                "available": data_object.get("available"),
                "pending": data_object.get("pending"),
            }
            yield from add(balances, snapshot, int(event["created"]) * 1000, event_id)
    yield from event_rows.flush()
    yield from balances.flush()
    yield from quarantine.flush()
    report.applied["events"] = event_rows.count
    report.applied[BALANCE_TABLE] = balances.count


def apply_events(
    settings: Settings,
    events: Sequence[Mapping[str, Any]],
    *,
    pipelines_dir: Path | None = None,
    connection: Any = None,
) -> ApplyReport:
    """Write what `events` carry into `raw_stripe`, newest state of each object only.

    The caller holds the warehouse's writer lock (recon.serve.lock): reading the stored states
    and writing the newer ones is one step no other writer interleaves with. With `connection`
    (the micro-batcher's DuckDB connection to the warehouse) the rows go in through it in one
    transaction when every table they go to is already there with their columns (`_write_in`);
    otherwise, and on PostgreSQL, dlt loads them.
    """
    started = time.monotonic()
    if not events:
        return ApplyReport(events=0)
    written = _write_in(connection, events) if connection is not None else ""
    if isinstance(written, ApplyReport):
        report = written
    else:
        report = _load_with_dlt(settings, events, pipelines_dir)
        report.by_dlt = written
    report.seconds = time.monotonic() - started
    return report


def _winners(
    candidates: Mapping[str, Mapping[str, _Candidate]], stored: Mapping[str, Mapping[str, Any]], report: ApplyReport
) -> dict[str, dict[str, _Candidate]]:
    """The candidates newer than the state already stored (the others are counted stale)."""
    winners: dict[str, dict[str, _Candidate]] = {}
    for table, by_id in candidates.items():
        known = stored.get(table, {})
        for object_id, candidate in by_id.items():
            if object_id in known and int(known[object_id]) >= candidate.observed_at:
                report.stale += 1
            else:
                winners.setdefault(table, {})[object_id] = candidate
    return winners


def _load_with_dlt(settings: Settings, events: Sequence[Mapping[str, Any]], pipelines_dir: Path | None) -> ApplyReport:
    report = ApplyReport(events=len(events))
    pipeline = destinations.pipeline(PIPELINE_NAME, DATASET, settings, pipelines_dir=pipelines_dir)
    candidates = _candidates(events, report)
    try:
        stored = stored_values(pipeline, candidates, OBSERVED_AT)
    except DestinationConnectionError as error:
        raise SourceUnavailableError(
            f"the warehouse could not be opened to read the stored states ({database_error(error)})"
        ) from None
    winners = _winners(candidates, stored, report)

    @dlt.source(name="stripe_webhooks", max_table_nesting=0, root_key=False)
    def source() -> Any:
        @dlt.resource(name="stripe_webhook_objects", write_disposition="merge")
        def objects() -> Iterator[Any]:
            yield from _rows(events, winners, report)

        return objects

    try:
        pipeline.run(source(), loader_file_format="parquet")
    except PipelineStepFailed as failure:
        try:
            pipeline.abort_packages()
        except Exception as error:  # nothing pending
            log.debug("abort_packages: %s", type(error).__name__)
        raise SourceUnavailableError(
            f"the events could not be written to the warehouse ({database_error(failure)})"
        ) from None
    return report


def _write_in(connection: Any, events: Sequence[Mapping[str, Any]]) -> ApplyReport | str:
    """The events' rows written through `connection` (DuckDB), each table's merge on its key as
    dlt's `delete-insert` does it (delete the keys, insert the rows), all tables in one transaction.

    dlt's pipeline costs a micro-batch 0.5-2 s of its own machinery (configuration resolved
    hundreds of times, a load package on disk) for a few hundred rows that take 0.1 s this way
    (DECISIONLOG.md, "Webhook rows through the held connection"). dlt stays the owner of the raw
    tables' schema: the reason dlt must load the batch instead when a table is not in the
    warehouse yet, lacks a column or holds it with another type, when a key repeats, or when the
    write fails (rolled back, logged as a warning).
    """
    report = ApplyReport(events=len(events))
    candidates = _candidates(events, report)
    columns = _raw_columns(connection)
    stored = {
        table: dict(
            connection.execute(
                f"select id, {OBSERVED_AT} from {DATASET}.{table} where id in (select unnest(?::varchar[]))",
                [sorted(by_id)],
            ).fetchall()
        )
        for table, by_id in candidates.items()
        if table in columns and by_id
    }
    winners = _winners(candidates, stored, report)
    parts: dict[str, tuple[Any, list[pa.Table]]] = {}
    for item in _rows(events, winners, report):
        if not isinstance(item, DataItemWithMeta) or not isinstance(item.data, pa.Table):
            return "rows that are not Arrow tables with their hints"
        hints = item.meta.hints
        parts.setdefault(str(hints["table_name"]), (hints.get("primary_key"), []))[1].append(item.data)
    incoming = {table: (key, pa.concat_tables(tables)) for table, (key, tables) in parts.items()}
    names = {table: f"recon_incoming_{index}" for index, table in enumerate(incoming)}
    for table, (_, rows) in incoming.items():
        connection.register(names[table], rows)
    try:
        for table, (key, _) in incoming.items():
            reason = _why_dlt(connection, columns, table, key, names[table])
            if reason is not None:
                return reason
        connection.execute("begin transaction")
        try:
            for table, (key, _) in incoming.items():
                connection.execute(f"delete from {DATASET}.{table} where {key} in (select {key} from {names[table]})")
                connection.execute(f"insert into {DATASET}.{table} by name select * from {names[table]}")
            connection.execute("commit")
        except duckdb.Error as error:
            with contextlib.suppress(duckdb.Error):  # a failed commit has rolled back already
                connection.execute("rollback")
            log.warning("The micro-batch's rows could not be written in the warehouse's connection (%s); dlt writes them", error)
            return "the write through the warehouse's connection failed"
    finally:
        for name in names.values():
            connection.unregister(name)
    return report


def _raw_columns(connection: Any) -> dict[str, dict[str, str]]:
    """Every table of `raw_stripe` in the warehouse: column -> DuckDB type."""
    columns: dict[str, dict[str, str]] = {}
    for table, column, data_type in connection.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ?",
        [DATASET],
    ).fetchall():
        columns.setdefault(str(table), {})[str(column)] = str(data_type)
    return columns


def _why_dlt(connection: Any, columns: Mapping[str, Mapping[str, str]], table: str, key: Any, name: str) -> str | None:
    """Why dlt must write the rows registered as `name` into `table`, or None."""
    if table not in columns:
        return f"{DATASET}.{table} is not in the warehouse yet"
    if not isinstance(key, str):
        return f"{DATASET}.{table} has a compound key"
    stored = columns[table]
    for column, data_type, *_ in connection.execute(f"describe select * from {name}").fetchall():
        if column not in stored:
            return f"{DATASET}.{table} has no column {column} yet"
        if stored[column] != data_type:
            return f"{DATASET}.{table}.{column} is {stored[column]}, the rows bring {data_type}"
    ((repeated,),) = connection.execute(f"select count(*) - count(distinct {key}) from {name}").fetchall()
    if repeated:
        return f"a key of {DATASET}.{table} repeats in the batch"
    return None


def database_error(error: BaseException) -> str:
    """What the database said, from under dlt's wrapping: dlt's connection error reads "check if
    you configured the credentials ... or your internet connection may be down" whatever the
    cause, which misleads when the cause is a DuckDB file another process holds."""
    current = error
    for _ in range(10):
        inner = getattr(current, "inner_exc", None) or getattr(current, "exception", None)
        if not isinstance(inner, BaseException) or inner is current:
            break
        current = inner
    return str(current) or type(current).__name__
