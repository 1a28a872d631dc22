"""The dlt source for Stripe: every object docs/contract.md section 2 names, incremental, in order.

One resource reads the objects in a fixed order and dispatches each batch to its own table
(`dlt.mark.with_hints`), because later reads depend on earlier ones: the events bring new
states of objects read before, and a payout's composition is read once the payout is final.
See DECISIONLOG.md ("How Stripe changes reach the warehouse").

An object a table cannot hold (not a JSON object, no id, no whole `created`, a value its column
cannot store) goes to `raw_stripe.quarantine` with the reason, is counted in the report, and
neither stops the load nor moves a high-water mark (DECISIONLOG.md, "Stripe objects a table
cannot hold").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import dlt
import orjson
import pyarrow as pa
from dlt.extract import DltResource

from ingest.report import LoadReport
from ingest.stripe.helpers import (
    Page,
    Row,
    StripeReader,
    UnfitObject,
    arrow_schema,
    content_hash,
    dlt_column_hints,
    flatten,
    object_problem,
    page_cursor,
    quarantine_id,
    raw_text,
    read_created_range,
    rows_to_table,
    whole_number,
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
QUARANTINE_TABLE = "quarantine"
_LISTED_AGAIN = "the next run lists them again from the same point"


def _table_hints(
    table: str, columns: dict[str, ColumnType], primary_key: str | list[str], merge_strategy: str = "delete-insert"
) -> Any:
    hints = dlt_column_hints(columns)
    for name in [primary_key] if isinstance(primary_key, str) else primary_key:
        hints[name]["nullable"] = False
    hints[OBSERVED_AT] = {"data_type": "bigint", "nullable": False, "dedup_sort": "desc"}
    hints[CONTENT_HASH] = {"data_type": "text", "nullable": False}
    return dlt.mark.make_hints(
        table_name=table,
        primary_key=primary_key,
        write_disposition={"disposition": "merge", "strategy": merge_strategy},  # type: ignore[arg-type]
        columns=hints,  # type: ignore[arg-type]
    )


class Batcher:
    """Collects rows of one table and hands out Arrow tables with that table's hints.

    Remembers the content hash of every row that may already be in the warehouse (created at
    or before the previous high-water mark, or brought by an event), so that the load can
    tell new rows from updated ones and from unchanged re-reads.

    `add` raises UnfitObject, before keeping anything, for an object the table cannot hold:
    not a JSON object, a key column missing, a value its column cannot store, and where
    `created_required` (the tables listed incrementally on `created`) no whole `created`.
    """

    def __init__(
        self,
        table: str,
        columns: dict[str, ColumnType],
        primary_key: str | list[str],
        *,
        seen: dict[str, dict[str, str]] | None = None,
        previous_high_water: int | None = None,
        created_required: bool = False,
        merge_strategy: str = "delete-insert",
    ) -> None:
        self.table = table
        self._key = [primary_key] if isinstance(primary_key, str) else primary_key
        self.schema = arrow_schema(
            columns,
            extra={OBSERVED_AT: pa.int64(), CONTENT_HASH: pa.string()},
            required=[*self._key, OBSERVED_AT, CONTENT_HASH],
        )
        self.hints = _table_hints(table, columns, primary_key, merge_strategy)
        self.columns = columns
        self.rows: list[Row] = []
        self.count = 0
        self.ids: set[str] = set()
        self._maybe_existing = (seen if seen is not None else {}).setdefault(table, {})
        self._previous_high_water = previous_high_water
        self._created_required = created_required

    def add(self, obj: dict[str, Any], observed_at_ms: int, *, maybe_existing: bool = False) -> Iterator[Any]:
        problem = object_problem(obj, self._key, created_required=self._created_required)
        if problem is not None:
            raise UnfitObject(problem)
        try:
            row = flatten(obj, self.columns)
            row_hash = content_hash(obj)
        except orjson.JSONEncodeError as error:
            raise UnfitObject("it holds a number too large for 64 bits") from error
        row[OBSERVED_AT] = observed_at_ms
        row[CONTENT_HASH] = row_hash
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

    def finish(self) -> Iterator[Any]:
        """The last rows, and the table itself when this run kept none: an account that never had
        a dispute (or an invoice, a refund...) still gets its empty raw table with every column,
        so the models read an empty table instead of failing on a missing one."""
        yield from self.flush()
        if self.count == 0:
            yield dlt.mark.with_hints(dlt.mark.materialize_table_schema(), self.hints, create_table_variant=True)


class Quarantine:
    """Objects no raw table can hold, for `raw_stripe.quarantine`: table, id, reason, raw JSON.

    Keyed by table and raw JSON text (`quarantine_id`): an object is counted once in every run
    that refuses it (a later run refuses it again when it reads it again, in the look-back
    window or a retried composition) but stored once, with the time it was first refused.
    `known` holds the ids the quarantine already has.
    """

    def __init__(self, known: set[str] | None = None, merge_strategy: str = "delete-insert") -> None:
        self._known = known if known is not None else set()
        self._refused: dict[str, set[str]] = {}  # table -> ids refused in this run
        self.rows: list[Row] = []
        self.new = 0
        self.at = datetime.now(UTC)
        self.schema = pa.schema(
            [
                pa.field("quarantine_id", pa.string(), nullable=False),
                pa.field("table_name", pa.string(), nullable=False),
                pa.field("object_id", pa.string()),
                pa.field("source", pa.string(), nullable=False),
                pa.field("reason", pa.string(), nullable=False),
                pa.field("raw", pa.string(), nullable=False),
                pa.field("quarantined_at", pa.timestamp("us", tz="UTC"), nullable=False),
            ]
        )
        columns: dict[str, dict[str, Any]] = {
            name: {"name": name, "data_type": "text", "nullable": name == "object_id"}
            for name in ("quarantine_id", "table_name", "object_id", "source", "reason", "raw")
        }
        columns["quarantined_at"] = {
            "name": "quarantined_at", "data_type": "timestamp", "timezone": True, "nullable": False,
        }
        self.hints = dlt.mark.make_hints(
            table_name=QUARANTINE_TABLE,
            primary_key="quarantine_id",
            write_disposition={"disposition": "merge", "strategy": merge_strategy},  # type: ignore[arg-type]
            columns=columns,  # type: ignore[arg-type]
        )

    def add(self, table: str, obj: Any, reason: str, source: str) -> Iterator[Any]:
        raw = raw_text(obj)
        key = quarantine_id(table, raw)
        refused = self._refused.setdefault(table, set())
        if key in refused:
            return
        refused.add(key)
        object_id = _object_id(obj)
        known = key in self._known
        log.log(
            logging.INFO if known else logging.WARNING,
            "Stripe %s: %s %s from %s: %s",
            table,
            "still refusing" if known else "quarantined",
            object_id or "an object without an id",
            source,
            reason,
        )
        if known:
            return
        self.new += 1
        self.rows.append(
            {
                "quarantine_id": key,
                "table_name": table,
                "object_id": object_id,
                "source": source,
                "reason": reason,
                "raw": raw,
                "quarantined_at": self.at,
            }
        )
        if len(self.rows) >= BATCH_ROWS:
            yield from self.flush()

    def count(self, table: str) -> int:
        """Distinct objects refused for `table` in this run."""
        return len(self._refused.get(table, ()))

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self._refused.values())

    def summary(self) -> str:
        tables = ", ".join(f"{table} {len(ids)}" for table, ids in self._refused.items() if ids)
        return (
            f"quarantined {self.total} Stripe objects no raw table can hold ({tables}), {self.new} "
            "of them new: each one's reason is in raw_stripe.quarantine"
        )

    def flush(self) -> Iterator[Any]:
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=self.schema)
            self.rows = []
            yield dlt.mark.with_hints(table, self.hints, create_table_variant=True)


def _object_id(obj: Any) -> str | None:
    value = obj.get("id") if isinstance(obj, Mapping) else None
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)


def _offer(
    batch: Batcher,
    quarantine: Quarantine,
    obj: Any,
    observed_at_ms: int,
    source: str,
    *,
    maybe_existing: bool = False,
) -> Generator[Any, None, bool]:
    """`obj` into its table, or into the quarantine when the table cannot hold it. Returns
    whether the table took it."""
    try:
        yield from batch.add(obj, observed_at_ms, maybe_existing=maybe_existing)
    except UnfitObject as unfit:
        yield from quarantine.add(batch.table, obj, str(unfit), source)
        return False
    return True


def _event_problem(event: Any) -> str | None:
    """Why an event is malformed beyond what the events table checks: it carries no object."""
    if not isinstance(event, Mapping):
        return None  # the events table says why
    data = event.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        return "its data.object is missing or not a JSON object"
    return None


@dlt.source(name="stripe", max_table_nesting=0, root_key=False)
def stripe_source(
    reader: StripeReader,
    resources: Sequence[str] | None = None,
    now: int | None = None,
    report: LoadReport | None = None,
    seen: dict[str, dict[str, str]] | None = None,
    quarantined: set[str] | None = None,
    merge_strategy: str = "delete-insert",
) -> DltResource:
    """Stripe through its list endpoints, incremental on `created`, merged on `id`.

    `reader` carries the key (never a dlt config value, so never in a trace);
    `now` (unix seconds) is the upper end of what is read, by default the time of the call;
    `report` receives rows and requests per table; `seen` receives, per table, the content
    hash of every row that may already be in the warehouse (see `Batcher`); `quarantined`
    holds the ids `raw_stripe.quarantine` already has (see `Quarantine`); `merge_strategy` is
    dlt's: `delete-insert` (the newest observation of a load wins, by `_observed_at`) on the
    databases, `upsert` on the lake's Delta tables (the load deduplicates first: ingest.lake).
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
        quarantine = Quarantine(quarantined, merge_strategy)

        # 1. The events since the last run: their snapshots are newer states of objects.
        # Only objects created before a table's list window need them: every object inside
        # the window is listed after the events are read, so its listed state is newer.
        # Of several events about one object, the newest snapshot is kept.
        windows = {name: _window_start(name, high_water) for name in selected}
        snapshots: dict[str, dict[str, tuple[dict[str, Any], int]]] = {}
        snapshot_sources: dict[tuple[str, str], str] = {}  # (table, id) -> the event that brought it
        if "events" in selected:
            events = Batcher(
                "events", RESOURCES["events"][1], "id",
                seen=maybe_existing, previous_high_water=high_water.get("events"), created_required=True,
                merge_strategy=merge_strategy,
            )
            started = time.monotonic()
            previous = high_water.get("events")
            listed_from = f"GET {RESOURCES['events'][0]}"
            cut_short = False
            for page in _read(reader, "events", high_water, upper):
                cut_short = _cut_short(load_report, page, _LISTED_AGAIN) or cut_short
                for event in page.objects:
                    problem = _event_problem(event)
                    if problem is not None:
                        yield from quarantine.add("events", event, problem, listed_from)
                        continue
                    if not (yield from _offer(events, quarantine, event, page.fetched_at_ms, listed_from)):
                        continue  # its snapshot is not used either: the event's time is unknown
                    data_object = event["data"]["object"]
                    table = EVENT_OBJECT_TABLES.get(str(data_object.get("object")))
                    if table in windows and not data_object.get("deleted"):
                        # No `created` counts as the oldest, as always; one that is no whole
                        # number may be old too: either way the snapshot is needed.
                        created = whole_number(data_object.get("created") or 0)
                        if created is None or created < windows[table]:
                            yield from _keep_snapshot(snapshots, snapshot_sources, quarantine, table, event)
                    _bump(high_water, "events", event)
            if cut_short:
                _restore(high_water, "events", previous)
            yield from events.finish()
            _account(load_report, "events", events, reader, started, quarantine)

        # 2. Every object type, newest first within its window, sliced across workers.
        payouts_seen: dict[str, tuple[str, int, int]] = {}  # id -> (status, created, observed at)
        for resource in selected:
            if resource == "events":
                continue
            started = time.monotonic()
            batch = Batcher(
                resource, RESOURCES[resource][1], "id",
                seen=maybe_existing, previous_high_water=high_water.get(resource), created_required=True,
                merge_strategy=merge_strategy,
            )
            previous = high_water.get(resource)
            listed_from = f"GET {RESOURCES[resource][0]}"
            cut_short = False
            for page in _read(reader, resource, high_water, upper):
                cut_short = _cut_short(load_report, page, _LISTED_AGAIN) or cut_short
                for obj in page.objects:
                    if not (yield from _offer(batch, quarantine, obj, page.fetched_at_ms, listed_from)):
                        continue  # quarantined: it moves no high-water mark
                    _bump(high_water, resource, obj)
                    if resource == "payouts":
                        _observe(payouts_seen, obj, page.fetched_at_ms)
            if cut_short:
                _restore(high_water, resource, previous)
            for object_id, (obj, observed_at) in snapshots.pop(resource, {}).items():
                brought_by = snapshot_sources[(resource, object_id)]
                taken = yield from _offer(batch, quarantine, obj, observed_at, brought_by, maybe_existing=True)
                if not taken:
                    continue
                if resource == "payouts":
                    _observe(payouts_seen, obj, observed_at)
            if resource == "payouts":
                # Payouts still moving (or final with a composition not read whole) and older
                # than the look-back window: read again by their exact `created`, a list call
                # the contract allows.
                for payout_id, created in sorted(unfinished.items()):
                    if payout_id in payouts_seen:
                        continue
                    page = reader.list_page(
                        "payouts", RESOURCES["payouts"][0], {"limit": PAGE_LIMIT, "created": created}
                    )
                    for obj in page.objects:
                        taken = yield from _offer(
                            batch, quarantine, obj, page.fetched_at_ms, listed_from, maybe_existing=True
                        )
                        if taken:
                            _observe(payouts_seen, obj, page.fetched_at_ms)
            yield from batch.finish()
            _account(load_report, resource, batch, reader, started, quarantine)

        # 3. The composition of every payout that became final and is not yet composed.
        if "payouts" in selected and "balance_transactions" in selected:
            started = time.monotonic()
            composition = Batcher(
                COMPOSITION_TABLE, PAYOUT_COMPOSITION_COLUMNS, ["payout_id", "balance_transaction_id"],
                seen=maybe_existing, merge_strategy=merge_strategy,
            )
            already = set(composed)
            for payout_id, (status, created, _) in sorted(payouts_seen.items()):
                if status not in PAYOUT_FINAL_STATUSES:
                    unfinished[payout_id] = created
                    continue
                unfinished.pop(payout_id, None)
                if payout_id in already:
                    continue
                listed_from = f"GET /v1/balance_transactions?payout={payout_id}"
                complete = True
                for page in _read_composition(reader, payout_id):
                    if _cut_short(load_report, page, f"payout {payout_id}'s composition is read again next run"):
                        complete = False
                    for txn in page.objects:
                        problem = object_problem(txn, ["id"], created_required=False)
                        if problem is not None:
                            yield from quarantine.add(COMPOSITION_TABLE, txn, problem, listed_from)
                            complete = False
                            continue
                        pair = {"payout_id": payout_id, "balance_transaction_id": txn["id"]}
                        if not (yield from _offer(composition, quarantine, pair, page.fetched_at_ms, listed_from)):
                            complete = False
                if complete:
                    composed.append(payout_id)
                    already.add(payout_id)
                else:  # a transaction was quarantined: read the payout and its composition again
                    unfinished[payout_id] = created
            yield from composition.finish()
            _account(
                load_report, COMPOSITION_TABLE, composition, reader, started, quarantine, key="payout_composition"
            )

        yield from quarantine.flush()
        if quarantine.total:
            load_report.table(QUARANTINE_TABLE).new_rows = quarantine.new
            load_report.messages.append(quarantine.summary())

    return stripe_objects


def _keep_snapshot(
    snapshots: dict[str, dict[str, tuple[dict[str, Any], int]]],
    sources: dict[tuple[str, str], str],
    quarantine: Quarantine,
    table: str,
    event: Mapping[str, Any],
) -> Iterator[Any]:
    """Keep the event's snapshot of an object of `table` if it is the newest so far; one with
    no id or no whole `created` cannot be placed and goes to the quarantine."""
    data_object = event["data"]["object"]
    brought_by = f"event {event['id']}"
    problem = object_problem(data_object, ["id"], created_required=True)
    if problem is not None:
        yield from quarantine.add(table, data_object, problem, brought_by)
        return
    observed_at = int(event["created"]) * 1000
    newest = snapshots.setdefault(table, {})
    known = newest.get(str(data_object["id"]))
    if known is None or observed_at >= known[1]:
        newest[str(data_object["id"])] = (data_object, observed_at)
        sources[(table, str(data_object["id"]))] = brought_by


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
        if not page.has_more or not page.objects:
            yield page
            return
        following = page_cursor(page.objects)
        if following is None:
            page.cut_short = True
            yield page
            return
        yield page
        params = {**params, "starting_after": following[0]}


def _cut_short(report: LoadReport, page: Page, then: str) -> bool:
    """Whether the listing stopped at `page` (see `Page.cut_short`); if so, says so in the report."""
    if page.cut_short:
        message = (
            f"{page.resource}: Stripe sent a page of {len(page.objects)} objects none of which has an id, "
            f"so the objects listed after it could not be read; {then}."
        )
        log.warning("%s", message)
        report.messages.append(message)
    return page.cut_short


def _restore(high_water: dict[str, int], resource: str, previous: int | None) -> None:
    """Put a high-water mark back where the run found it: what was not read is read next run."""
    if previous is None:
        high_water.pop(resource, None)
    else:
        high_water[resource] = previous


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
    report: LoadReport,
    table: str,
    batch: Batcher,
    reader: StripeReader,
    started: float,
    quarantine: Quarantine,
    *,
    key: str | None = None,
) -> None:
    entry = report.table(table)
    entry.new_rows = len(batch.ids)  # distinct rows read; split into new and updated after the load
    entry.quarantined_rows = quarantine.count(table)
    entry.requests = reader.requests[key or table]
    entry.seconds += time.monotonic() - started
