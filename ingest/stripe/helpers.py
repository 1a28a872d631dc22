"""Pure helpers of the Stripe source: reading pages politely, slicing time, shaping rows.

Nothing here knows about dlt. The reader talks to Stripe (or a Stripe-compatible server)
through the official library's `raw_request`, which skips the ~1.5 ms per object the typed
objects cost, and parses nothing twice.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pyarrow as pa
import stripe

from core.errors import SourceUnavailableError, UserError
from core.settings import DEFAULT_STRIPE_TIMEOUT_S
from ingest.stripe.settings import (
    API_VERSION,
    BACKOFF_INITIAL_S,
    BACKOFF_MAX_S,
    CONNECT_TIMEOUT_S,
    DEFAULT_MAX_RPS_LIVE,
    DEFAULT_MAX_RPS_TEST,
    MAX_ATTEMPTS,
    PAGE_LIMIT,
    RETRY_BUDGET_S,
    ColumnType,
)

log = logging.getLogger(__name__)

Row = dict[str, Any]


class RateLimiter:
    """A token bucket shared by every reader thread: at most `rate` requests a second.

    Retries take a token like any request, so backing off never exceeds the cap. The bucket
    holds one token: requests are spaced evenly, so no one-second window (Stripe counts per
    second) ever sees more than `rate` + 1 of them, not even at the start.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise UserError("The Stripe request-rate cap must be a positive number of requests per second.")
        self.rate = rate
        self._capacity = 1.0
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1.0 - 1e-9:  # tolerate float rounding after an exact wait
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Everybody waits: after a 429 the whole reader slows down, not just one thread."""
        with self._lock:
            self._tokens = min(self._tokens, 0.0) - seconds * self.rate
            self._updated = self._clock()


def default_max_rps(api_key: str) -> float:
    """Stripe's own limits: 100 read requests a second in live mode, 25 in test mode."""
    return DEFAULT_MAX_RPS_LIVE if "_live_" in api_key else DEFAULT_MAX_RPS_TEST


def mask_key(api_key: str) -> str:
    """How Stripe itself shows a key in an error: the kind and the last four characters."""
    kind = api_key.split("_", 2)
    prefix = "_".join(kind[:2]) + "_" if len(kind) >= 3 else ""
    return f"{prefix}****{api_key[-4:]}" if len(api_key) > 8 else "****"


@dataclass
class Page:
    """One list page. `cut_short`: more objects follow, but none on the page has an id to list
    them from (`starting_after`), so the listing stopped here (see `page_cursor`)."""

    resource: str
    objects: list[Row]
    has_more: bool
    fetched_at_ms: int
    cut_short: bool = False


@dataclass
class StripeReader:
    """Reads list pages with retries, backoff and a shared rate cap. Counts its requests.

    The API key lives only inside the `stripe.StripeClient`; this object's repr omits it.
    """

    api_key: str = field(repr=False)
    api_base: str | None = None
    max_rps: float | None = None
    workers: int = 8
    max_attempts: int = MAX_ATTEMPTS
    timeout_s: float = DEFAULT_STRIPE_TIMEOUT_S
    retry_budget_s: float = RETRY_BUDGET_S
    requests: Counter[str] = field(default_factory=Counter)
    _client: stripe.StripeClient = field(init=False, repr=False)
    _limiter: RateLimiter = field(init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)
    _count_lock: threading.Lock = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise UserError(
                "STRIPE_API_KEY is not set: export a Stripe secret or restricted read-only key."
            )
        base_addresses = {"api": self.api_base.rstrip("/")} if self.api_base else {}
        self._client = stripe.StripeClient(
            api_key=self.api_key,
            stripe_version=API_VERSION,
            base_addresses=base_addresses,  # type: ignore[arg-type]
            max_network_retries=0,  # retries are ours: they must honour the shared rate cap
            http_client=stripe.RequestsClient(timeout=(min(CONNECT_TIMEOUT_S, self.timeout_s), self.timeout_s)),
        )
        self._limiter = RateLimiter(self.max_rps or default_max_rps(self.api_key))
        self._rng = random.Random(0)
        self._count_lock = threading.Lock()

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def list_page(self, resource: str, path: str, params: Mapping[str, Any]) -> Page:
        """One list page, retried: 429 with backoff honouring the cap, 5xx and network errors
        with bounded backoff. A 401 or 403 stops at once with one clear sentence."""
        attempt = 0
        first = time.monotonic()
        while True:
            attempt += 1
            self._limiter.acquire()
            with self._count_lock:
                self.requests[resource] += 1
            try:
                response = self._client.raw_request("get", path, **dict(params))
            except stripe.AuthenticationError:
                raise SourceUnavailableError(
                    f"Stripe rejected the API key ({mask_key(self.api_key)}) with 401: "
                    "check STRIPE_API_KEY; nothing was loaded."
                ) from None
            except stripe.PermissionError:
                raise SourceUnavailableError(
                    f"The Stripe API key may not read {resource} (403): give the restricted key "
                    f"read access to {resource}; nothing was loaded."
                ) from None
            except stripe.InvalidRequestError as error:
                raise SourceUnavailableError(
                    f"Stripe refused the request for {resource}: {error.user_message or error}"
                ) from None
            except (stripe.RateLimitError, stripe.APIError, stripe.APIConnectionError) as error:
                status = getattr(error, "http_status", None) or "network error"
                delay = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (attempt - 1))
                delay *= 0.5 + self._rng.random()
                spent = time.monotonic() - first
                if _did_not_answer(error) and (attempt >= self.max_attempts or spent + delay > self.retry_budget_s):
                    raise SourceUnavailableError(
                        f"The Stripe API ({self.api_base or 'api.stripe.com'}) did not answer GET {path} "
                        f"within {self.timeout_s:g} s, {attempt} times in {spent:.0f} s: check that it is "
                        "reachable (or raise --stripe-timeout / RECON_STRIPE_TIMEOUT); nothing more was "
                        "loaded, and the next run resumes from the last completed load."
                    ) from None
                if attempt >= self.max_attempts or spent + delay > self.retry_budget_s:
                    raise SourceUnavailableError(
                        f"Stripe API failed while reading {resource} after {attempt} attempts "
                        f"(last: {status}); run again to resume from the last completed load."
                    ) from None
                retry_after = _retry_after(error)
                if isinstance(error, stripe.RateLimitError):
                    delay = max(delay, retry_after or 0.0)
                    self._limiter.pause(delay)
                log.info("Stripe %s on %s, attempt %d: retrying in %.2f s", status, resource, attempt, delay)
                time.sleep(delay)
                continue
            body = response.data if hasattr(response, "data") else json.loads(response.body)
            return Page(
                resource=resource,
                objects=list(body.get("data", [])),
                has_more=bool(body.get("has_more")),
                fetched_at_ms=int(time.time() * 1000),
            )

    def check_access(self) -> None:
        """One cheap request before anything is extracted: a bad key loads nothing."""
        self.list_page("balance_transactions", "/v1/balance_transactions", {"limit": 1})


def _did_not_answer(error: stripe.StripeError) -> bool:
    """A network error that is a timeout (the API took the connection and said nothing)."""
    return isinstance(error, stripe.APIConnectionError) and "timed out" in str(error).lower()


def _retry_after(error: stripe.StripeError) -> float | None:
    headers = getattr(error, "headers", None) or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Slice:
    """Objects created in [gte, lte], after `starting_after` in list order (newest first)."""

    gte: int
    lte: int
    starting_after: str | None = None


def read_created_range(
    reader: StripeReader,
    resource: str,
    path: str,
    gte: int,
    lte: int,
    *,
    extra_params: Mapping[str, Any] | None = None,
    min_split_s: int = 60,
) -> Iterator[Page]:
    """Every object created in [gte, lte], read by `reader.workers` threads in parallel.

    The range is split on the fly: a slice whose first page says `has_more` hands the older
    half of what remains to another worker and keeps the newer half with its cursor, so the
    work spreads over the workers whatever the distribution of `created`. Each object is read
    exactly once. Pages arrive in no particular order.
    """
    if gte > lte:
        return
    pending: queue.Queue[Slice | None] = queue.Queue()
    pages: queue.Queue[Page | BaseException | None] = queue.Queue(maxsize=reader.workers * 4)
    outstanding = 1
    lock = threading.Lock()
    stop = threading.Event()
    pending.put(Slice(gte, lte))

    def finish_slice() -> None:
        nonlocal outstanding
        with lock:
            outstanding -= 1
            if outstanding == 0:
                for _ in range(reader.workers):
                    pending.put(None)

    def add_slice(piece: Slice) -> None:
        nonlocal outstanding
        with lock:
            outstanding += 1
        pending.put(piece)

    def work() -> None:
        while not stop.is_set():
            piece = pending.get()
            if piece is None:
                return
            try:
                _read_slice(piece)
            except BaseException as error:  # handed to the consumer, who raises it
                stop.set()
                pages.put(error)
                for _ in range(reader.workers):
                    pending.put(None)
                return
            finish_slice()

    def _read_slice(piece: Slice) -> None:
        current = piece
        while not stop.is_set():
            params: dict[str, Any] = {
                "limit": PAGE_LIMIT,
                "created": {"gte": current.gte, "lte": current.lte},
                **(extra_params or {}),
            }
            if current.starting_after:
                params["starting_after"] = current.starting_after
            page = reader.list_page(resource, path, params)
            if not page.has_more or not page.objects:
                pages.put(page)
                return
            following = page_cursor(page.objects)
            if following is None:
                pages.put(replace(page, cut_short=True))
                return
            pages.put(page)
            cursor, newest_left = following
            # Within the slice: a malformed `created` must not widen what is asked for.
            oldest_seen = current.lte if newest_left is None else min(current.lte, newest_left)
            oldest_seen = max(current.gte, oldest_seen)
            # What remains: created in [current.gte, oldest_seen], after `cursor`.
            middle = (current.gte + oldest_seen) // 2 + 1
            if oldest_seen - current.gte >= min_split_s and pending.qsize() < reader.workers:
                add_slice(Slice(current.gte, middle - 1))
                current = Slice(middle, oldest_seen, cursor)
            else:
                current = Slice(current.gte, oldest_seen, cursor)

    with ThreadPoolExecutor(max_workers=reader.workers, thread_name_prefix=f"stripe-{resource}") as pool:
        for _ in range(reader.workers):
            pool.submit(work)
        finished_workers = 0
        # The consumer: pages until every slice is done; the first error stops everything.
        while True:
            try:
                item = pages.get(timeout=0.1)
            except queue.Empty:
                with lock:
                    done = outstanding == 0
                if done and pages.empty():
                    break
                continue
            if isinstance(item, BaseException):
                stop.set()
                _drain(pages)
                raise item
            if item is None:
                finished_workers += 1
                continue
            yield item
        stop.set()


def page_cursor(objects: Sequence[Any]) -> tuple[str, int | None] | None:
    """Where a listing goes on after a page: the last object with an id (Stripe's
    `starting_after`) and the newest `created` the objects after it can have (that object's,
    else that of the last object before it with a whole `created`; None when none has one).

    For a page of well-formed objects that is its last object and its `created`. Objects after
    the cursor that have no id are listed again on the next page. None when no object on the
    page has an id: the listing cannot go on.
    """
    found: tuple[str, int | None] | None = None
    newest_left: int | None = None
    for obj in objects:
        if not isinstance(obj, Mapping):
            continue
        created = whole_number(obj.get("created"))
        if created is not None:
            newest_left = created
        object_id = obj.get("id")
        if isinstance(object_id, str) and object_id:
            found = (object_id, newest_left)
    return found


def _drain(pages: queue.Queue[Any]) -> None:
    while True:
        try:
            pages.get_nowait()
        except queue.Empty:
            return


def _nested_prefixes(columns: Mapping[str, ColumnType]) -> frozenset[str]:
    """Every `a`, `a__b` that is the parent of a declared flattened column."""
    key = id(columns)
    cached = _PREFIXES.get(key)
    if cached is None or cached[0] is not columns:
        prefixes = set()
        for name in columns:
            parts = name.split("__")
            for end in range(1, len(parts)):
                prefixes.add("__".join(parts[:end]))
        cached = (columns, frozenset(prefixes))
        _PREFIXES[key] = cached
    return cached[1]


_PREFIXES: dict[int, tuple[Mapping[str, ColumnType], frozenset[str]]] = {}


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class UnfitObject(ValueError):
    """An object its raw table cannot hold; the message says why, in plain words."""


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL_STEP = decimal.Decimal(1).scaleb(-12)  # the raw decimal columns: 28 digits, 12 after the point
_DECIMAL_LIMIT = decimal.Decimal(10) ** 16
_KIND_WORDS: dict[ColumnType, str] = {
    "bigint": "a whole number that fits in 64 bits",
    "decimal": "a decimal number with at most 16 digits before the point and 12 after it",
    "bool": "true or false",
    "text": "text",
    "json": "JSON",
}


def whole_number(value: Any) -> int | None:
    """`value` as the whole number a bigint column stores (what `int()` makes of it, within 64
    bits: 1700000000, "1700000000"), or None when it is not one ("yesterday", null, a list)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def shown(value: Any, limit: int = 60) -> str:
    """A value as JSON text for a message, cut at `limit` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a JSON list"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool):
        return f"JSON {str(value).lower()}"
    if isinstance(value, (int, float)):
        return "a JSON number"
    return "JSON null" if value is None else "not JSON"


def object_problem(obj: Any, key: Sequence[str], *, created_required: bool) -> str | None:
    """Why a raw table cannot hold `obj` at all, before its fields are looked at, or None.

    The object must be a JSON object with every `key` column (missing, null or "" is no key);
    where the table is incremental on `created` (`created_required`) `created` must be a whole
    number of seconds.
    """
    if not isinstance(obj, Mapping):
        return f"it is {_json_kind(obj)}, not a JSON object"
    for name in key:
        if obj.get(name) is None or obj.get(name) == "":
            return f"it has no {name}"
    if created_required:
        created = obj.get("created")
        if created is None:
            return "it has no created time"
        if whole_number(created) is None:
            return f"its created time {shown(created)} is not a whole number of seconds"
    return None


def flatten(obj: Mapping[str, Any], columns: Mapping[str, ColumnType]) -> Row:
    """One Stripe object -> one row of the declared columns (nested dicts joined with `__`).

    Declared JSON columns keep their value as JSON text. Fields the pinned version does not
    declare are kept, as JSON, in `_extra`. Raises UnfitObject naming the field when a value
    cannot be stored in its column's type.
    """
    row: Row = dict.fromkeys(columns)
    extra: dict[str, Any] = {}
    prefixes = _nested_prefixes(columns)

    def visit(prefix: str, value: Any) -> None:
        kind = columns.get(prefix)
        if kind == "json":
            row[prefix] = None if value is None else _json_text(value)
        elif kind is not None:
            try:
                row[prefix] = _scalar(value, kind)
            except orjson.JSONEncodeError:
                raise  # a number beyond 64 bits inside a nested value: the caller says so
            except (TypeError, ValueError, ArithmeticError) as error:
                raise UnfitObject(f"{prefix} is {shown(value)}, not {_KIND_WORDS[kind]}") from error
        elif prefix in prefixes and isinstance(value, Mapping):
            for key, item in value.items():
                visit(f"{prefix}__{key}", item)
        elif value is not None:
            extra[prefix] = value

    for key, value in obj.items():
        visit(key, value)
    row["_extra"] = _json_text(extra) if extra else None
    return row


def _scalar(value: Any, kind: ColumnType) -> Any:
    if value is None:
        return None
    if kind == "bigint":
        number = int(value)
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise OverflowError(f"{number} does not fit in 64 bits")
        return number
    if kind == "bool":
        return bool(value)
    if kind == "decimal":
        amount = decimal.Decimal(str(value))
        fits = amount.is_finite() and abs(amount) < _DECIMAL_LIMIT
        if not fits or amount != amount.quantize(_DECIMAL_STEP):
            raise ValueError(f"{value!r} does not fit the decimal column")
        return amount
    if isinstance(value, (dict, list)):
        return _json_text(value)
    return str(value)


_ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "text": pa.string(),
    "json": pa.string(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "decimal": pa.decimal128(28, 12),
}


def arrow_schema(
    columns: Mapping[str, ColumnType],
    *,
    extra: Mapping[str, pa.DataType] | None = None,
    required: Sequence[str] = (),
) -> pa.Schema:
    """The Arrow schema of a table; `required` columns are not nullable, as dlt's hints say."""
    fields = [pa.field(name, _ARROW_TYPES[kind], nullable=name not in required) for name, kind in columns.items()]
    fields.append(pa.field("_extra", pa.string()))
    fields.extend(pa.field(name, kind, nullable=name not in required) for name, kind in (extra or {}).items())
    return pa.schema(fields)


def dlt_column_hints(columns: Mapping[str, ColumnType]) -> dict[str, dict[str, Any]]:
    """dlt's column hints for the declared columns: every column exists from the first load."""
    dlt_types = {"text": "text", "json": "text", "bigint": "bigint", "bool": "bool", "decimal": "decimal"}
    hints: dict[str, dict[str, Any]] = {
        name: {"data_type": dlt_types[kind], "nullable": True} for name, kind in columns.items()
    }
    for name, kind in columns.items():
        if kind == "decimal":
            hints[name].update(precision=28, scale=12)
    hints["_extra"] = {"data_type": "text", "nullable": True}
    return hints


def rows_to_table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def content_hash(obj: Mapping[str, Any]) -> str:
    """A stable fingerprint of an object's content: tells an updated row from a re-read one."""
    return hashlib.sha1(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()


def raw_text(obj: Any) -> str:
    """An object as JSON text, keys in the order Stripe sent them (any JSON value, even a
    number beyond 64 bits): what the quarantine keeps of a refused object."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def quarantine_id(table: str, raw: str) -> str:
    """The quarantine's key: the same object refused for the same table is stored once."""
    return hashlib.sha1(f"{table}\n{raw}".encode()).hexdigest()
