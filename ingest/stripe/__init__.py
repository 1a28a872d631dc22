"""The dlt source for Stripe: every object CONTRACT.md section 2 names, incremental, in order.

One resource reads the objects in a fixed order and dispatches each batch to its own table
(`dlt.mark.with_hints`), because later reads depend on earlier ones: the events bring new
states of objects read before, and a payout's composition is read once the payout is final.
See DECISIONLOG.md ("How Stripe changes reach the warehouse").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract import DltResource

from ingest.report import LoadReport
from ingest.stripe.helpers import (
    Page,
    Row,
    StripeReader,
    arrow_schema,
    content_hash,
    dlt_column_hints,
    flatten,
    read_created_range,
    rows_to_table,
)
from ingest.stripe.settings import (
    EVENT_OBJECT_TABLES,
    LOOKBACK_S,
    PAGE_LIMIT,
    PAYOUT_COMPOSITION_COLUMNS,
    PAYOUT_FINAL_STATUSES,
    RESOURCES,
    ColumnType,
)

log = logging.getLogger(__name__)

BATCH_ROWS = 5_000  # rows per Arrow table: bounds memory, events carry large JSON
OBSERVED_AT = "_observed_at"  # ms since epoch: when this state of the object was seen
CONTENT_HASH = "_content_hash"  # sha1 of the object as Stripe returned it
COMPOSITION_TABLE = "payout_balance_transactions"


def _table_hints(table: str, columns: dict[str, ColumnType], primary_key: str | list[str]) -> Any:
    hints = dlt_column_hints(columns)
    for name in [primary_key] if isinstance(primary_key, str) else primary_key:
        hints[name]["nullable"] = False
    hints[OBSERVED_AT] = {"data_type": "bigint", "nullable": False, "dedup_sort": "desc"}
    hints[CONTENT_HASH] = {"data_type": "text", "nullable": False}
    return dlt.mark.make_hints(
        table_name=table,
        primary_key=primary_key,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=hints,  # type: ignore[arg-type]
    )


class _Batcher:
    """Collects rows of one table and hands out Arrow tables with that table's hints.

    Remembers the content hash of every row that may already be in the warehouse (created at
    or before the previous high-water mark, or brought by an event), so that the load can
    tell new rows from updated ones and from unchanged re-reads.
    """

    def __init__(
        self,
        table: str,
        columns: dict[str, ColumnType],
        primary_key: str | list[str],
        *,
        seen: dict[str, dict[str, str]] | None = None,
        previous_high_water: int | None = None,
    ) -> None:
        self.table = table
        self._key = [primary_key] if isinstance(primary_key, str) else primary_key
        self.schema = arrow_schema(
            columns,
            extra={OBSERVED_AT: pa.int64(), CONTENT_HASH: pa.string()},
            required=[*self._key, OBSERVED_AT, CONTENT_HASH],
        )
        self.hints = _table_hints(table, columns, primary_key)
        self.columns = columns
        self.rows: list[Row] = []
        self.count = 0
        self.ids: set[str] = set()
        self._maybe_existing = (seen if seen is not None else {}).setdefault(table, {})
        self._previous_high_water = previous_high_water

    def add(self, obj: dict[str, Any], observed_at_ms: int, *, maybe_existing: bool = False) -> Iterator[Any]:
        row = flatten(obj, self.columns)
        row[OBSERVED_AT] = observed_at_ms
        row[CONTENT_HASH] = content_hash(obj)
        key = "|".join(str(row[name]) for name in self._key)
        self.ids.add(key)
        created = obj.get("created")
        if maybe_existing or (
            self._previous_high_water is not None and created is not None and int(created) <= self._previous_high_water
        ):
            self._maybe_existing[key] = row[CONTENT_HASH]
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= BATCH_ROWS:
            yield from self.flush()

    def flush(self) -> Iterator[Any]:
        if self.rows:
            table = rows_to_table(self.rows, self.schema)
            self.rows = []
            yield dlt.mark.with_hints(table, self.hints, create_table_variant=True)


@dlt.source(name="stripe", max_table_nesting=0, root_key=False)
def stripe_source(
    reader: StripeReader,
    resources: Sequence[str] | None = None,
    now: int | None = None,
    report: LoadReport | None = None,
    seen: dict[str, dict[str, str]] | None = None,
) -> DltResource:
    """Stripe through its list endpoints, incremental on `created`, merged on `id`.

    `reader` carries the key (never a dlt config value, so never in a trace);
    `now` (unix seconds) is the upper end of what is read, by default the time of the call;
    `report` receives rows and requests per table; `seen` receives, per table, the content
    hash of every row that may already be in the warehouse (see `_Batcher`).
    """
    selected = list(resources or RESOURCES)
    unknown = sorted(set(selected) - set(RESOURCES))
    if unknown:
        raise ValueError(f"unknown Stripe resources: {', '.join(unknown)}")
    upper = int(now if now is not None else time.time())
    load_report = report or LoadReport(source="stripe")
    maybe_existing: dict[str, dict[str, str]] = seen if seen is not None else {}

    @dlt.resource(name="stripe_objects", write_disposition="merge")
    def stripe_objects() -> Iterator[Any]:
        state = dlt.current.source_state()
        high_water: dict[str, int] = state.setdefault("high_water", {})
        unfinished: dict[str, int] = state.setdefault("unfinished_payouts", {})
        composed: list[str] = state.setdefault("composed_payouts", [])

        # 1. The events since the last run: their snapshots are newer states of objects.
        # Only objects created before a table's list window need them: every object inside
        # the window is listed after the events are read, so its listed state is newer.
        # Of several events about one object, the newest snapshot is kept.
        windows = {name: _window_start(name, high_water) for name in selected}
        snapshots: dict[str, dict[str, tuple[dict[str, Any], int]]] = {}
        if "events" in selected:
            events = _Batcher(
                "events", RESOURCES["events"][1], "id",
                seen=maybe_existing, previous_high_water=high_water.get("events"),
            )
            started = time.monotonic()
            for page in _read(reader, "events", high_water, upper):
                for event in page.objects:
                    yield from events.add(event, page.fetched_at_ms)
                    data_object = (event.get("data") or {}).get("object") or {}
                    table = EVENT_OBJECT_TABLES.get(str(data_object.get("object")))
                    if (
                        table in windows
                        and not data_object.get("deleted")
                        and int(data_object.get("created") or 0) < windows[table]
                    ):
                        observed_at = int(event["created"]) * 1000
                        newest = snapshots.setdefault(table, {})
                        known = newest.get(str(data_object["id"]))
                        if known is None or observed_at >= known[1]:
                            newest[str(data_object["id"])] = (data_object, observed_at)
                    _bump(high_water, "events", event)
            yield from events.flush()
            _account(load_report, "events", events, reader, started)

        # 2. Every object type, newest first within its window, sliced across workers.
        payouts_seen: dict[str, tuple[str, int, int]] = {}  # id -> (status, created, observed at)
        for resource in selected:
            if resource == "events":
                continue
            started = time.monotonic()
            batch = _Batcher(
                resource, RESOURCES[resource][1], "id",
                seen=maybe_existing, previous_high_water=high_water.get(resource),
            )
            for page in _read(reader, resource, high_water, upper):
                for obj in page.objects:
                    yield from batch.add(obj, page.fetched_at_ms)
                    _bump(high_water, resource, obj)
                    if resource == "payouts":
                        _observe(payouts_seen, obj, page.fetched_at_ms)
            for obj, observed_at in snapshots.pop(resource, {}).values():
                yield from batch.add(obj, observed_at, maybe_existing=True)
                if resource == "payouts":
                    _observe(payouts_seen, obj, observed_at)
            if resource == "payouts":
                # Payouts still moving and older than the look-back window: read again by
                # their exact `created`, a list call the contract allows.
                for payout_id, created in sorted(unfinished.items()):
                    if payout_id in payouts_seen:
                        continue
                    page = reader.list_page(
                        "payouts", RESOURCES["payouts"][0], {"limit": PAGE_LIMIT, "created": created}
                    )
                    for obj in page.objects:
                        yield from batch.add(obj, page.fetched_at_ms, maybe_existing=True)
                        _observe(payouts_seen, obj, page.fetched_at_ms)
            yield from batch.flush()
            _account(load_report, resource, batch, reader, started)

        # 3. The composition of every payout that became final and is not yet composed.
        if "payouts" in selected and "balance_transactions" in selected:
            started = time.monotonic()
            composition = _Batcher(
                COMPOSITION_TABLE, PAYOUT_COMPOSITION_COLUMNS, ["payout_id", "balance_transaction_id"],
                seen=maybe_existing,
            )
            already = set(composed)
            for payout_id, (status, created, _) in sorted(payouts_seen.items()):
                if status not in PAYOUT_FINAL_STATUSES:
                    unfinished[payout_id] = created
                    continue
                unfinished.pop(payout_id, None)
                if payout_id in already:
                    continue
                for page in _read_composition(reader, payout_id):
                    for txn in page.objects:
                        pair = {"payout_id": payout_id, "balance_transaction_id": txn["id"]}
                        yield from composition.add(pair, page.fetched_at_ms)
                composed.append(payout_id)
                already.add(payout_id)
            yield from composition.flush()
            _account(load_report, COMPOSITION_TABLE, composition, reader, started, key="payout_composition")

    return stripe_objects


def _window_start(resource: str, high_water: dict[str, int]) -> int:
    """The oldest `created` a run lists for `resource`: the last high-water mark less the
    look-back window, or everything on the first run."""
    previous = high_water.get(resource)
    return 0 if previous is None else max(0, previous - LOOKBACK_S[resource])


def _read(reader: StripeReader, resource: str, high_water: dict[str, int], upper: int) -> Iterator[Page]:
    path = RESOURCES[resource][0]
    yield from read_created_range(reader, resource, path, _window_start(resource, high_water), upper)


def _read_composition(reader: StripeReader, payout_id: str) -> Iterator[Page]:
    params: dict[str, Any] = {"limit": PAGE_LIMIT, "payout": payout_id}
    while True:
        page = reader.list_page("payout_composition", "/v1/balance_transactions", params)
        yield page
        if not page.has_more or not page.objects:
            return
        params = {**params, "starting_after": page.objects[-1]["id"]}


def _observe(seen: dict[str, tuple[str, int, int]], payout: dict[str, Any], observed_at_ms: int) -> None:
    """Remember a payout's newest known status: an event's older snapshot never wins."""
    payout_id = str(payout["id"])
    known = seen.get(payout_id)
    if known is None or observed_at_ms >= known[2]:
        seen[payout_id] = (str(payout.get("status")), int(payout["created"]), observed_at_ms)


def _bump(high_water: dict[str, int], resource: str, obj: dict[str, Any]) -> None:
    created = int(obj["created"])
    if created > high_water.get(resource, -1):
        high_water[resource] = created


def _account(
    report: LoadReport, table: str, batch: _Batcher, reader: StripeReader, started: float, *, key: str | None = None
) -> None:
    entry = report.table(table)
    entry.new_rows = len(batch.ids)  # distinct rows read; split into new and updated after the load
    entry.requests = reader.requests[key or table]
    entry.seconds += time.monotonic() - started
