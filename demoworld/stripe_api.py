"""A local Stripe-compatible API that serves a demo world's `stripe/` folder over HTTP.

The official `stripe` library (typed list calls, `auto_paging_iter`, `raw_request`) talks
to it as to Stripe: point `StripeClient(key, base_addresses={"api": server.url})` or
`STRIPE_API_BASE` at `server.url`. It serves only what docs/contract.md section 2
lets the project read: list and retrieve of nine resources, with `limit`,
`starting_after`, `ending_before`, `created` (exact or `[gt|gte|lt|lte]`), and on
balance transactions the `payout` and `type` filters (`type` on events too). Anything
else, `expand[]` included, is answered 400, so misuse is caught loudly.

Storage: a SQLite index built from the world's `stripe/*.jsonl` files and
`payout_balance_transactions.csv` into `<world>/stripe/.index.sqlite3` (rebuilt when it is
missing or the source files changed). Rows keep each object's JSON text exactly as it is
in the world file, and list pages are spliced from those strings without re-parsing.

Endpoints besides Stripe's own (local only; the server binds 127.0.0.1 and nothing else):

- `GET /_stats`: request counters as JSON (no key needed): `total`, `by_path` (ids in
  paths are replaced by `{id}`), `by_status`, `stripe_versions` (the `Stripe-Version`
  headers seen), `rate_limited`, `injected_failures`, `objects_served`.
- `POST /_admin/upsert/<resource>` (needs the API key): body a JSON object or a list of
  them, each with `id` and integer `created`; inserted or replaced in the index.
- `POST /_admin/payout_composition/<payout_id>` (needs the API key): body a JSON list of
  balance transaction ids; replaces which transactions the payout settled.

Mutations change the index only, not the world's jsonl files; `rebuild=True` (or deleting
the index) restores the world as written. `serve_malformed` (Python only) serves any JSON text
as an object, for tests of what a loader does with objects real Stripe never sends.

Webhooks: `send_events(url, secret)` (the command line's `--send-events-to URL`, the secret
from `STRIPE_WEBHOOK_SECRET`) POSTs the world's events to a webhook endpoint signed as
Stripe signs them, with duplicates and out-of-order deliveries on request
(demoworld/webhooks.py).

Faults for tests: `rate_limit` (requests per second over a sliding one-second window;
more are answered 429 as Stripe does, with `Stripe-Should-Retry: true` and `Retry-After`
when `should_retry_header` is set: stripe-python 16 retries a 429 only when that header
says `true`, and retries any 5xx) and `fail_rate` (a seeded, deterministic share of
requests answered 500 `api_error`).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import csv
import json
import logging
import os
import queue
import random
import re
import secrets
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from core.errors import UserError
from demoworld.webhooks import (
    WEBHOOK_EVENT_TYPES,
    DeliveryReport,
    deliver_events,
    world_events,
)

logger = logging.getLogger(__name__)

DEFAULT_API_KEY = "sk_test_recon_demo"
DEFAULT_PORT = 12111
INDEX_FILENAME = ".index.sqlite3"
COMPOSITION_FILENAME = "payout_balance_transactions.csv"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")

# resource path segment -> the object's name in Stripe's messages ("No such charge: ...")
RESOURCES: dict[str, str] = {
    "customers": "customer",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "invoices": "invoice",
    "balance_transactions": "balance_transaction",
    "payouts": "payout",
    "events": "event",
}
# resources whose lists take `type=` (an index on (type, created, id) serves it)
TYPE_FILTERED = ("balance_transactions", "events")
LIST_PARAMS = frozenset(
    {
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "created[gt]",
        "created[gte]",
        "created[lt]",
        "created[lte]",
    }
)
EXTRA_LIST_PARAMS: dict[str, frozenset[str]] = {
    "balance_transactions": frozenset({"payout", "type"}),
    "events": frozenset({"type"}),
}
CREATED_OPERATORS = {
    "created": "=",
    "created[gt]": ">",
    "created[gte]": ">=",
    "created[lt]": "<",
    "created[lte]": "<=",
}
BUILD_BATCH = 20_000
POOL_SIZE = 8
_ID_IN_PATH = re.compile(r"^(/v1/[a-z_]+)/[^/]+$")


def _loads(text: str) -> Any:
    # orjson parses about three times faster than json; the index build is bound by parsing
    return orjson.loads(text)


# --------------------------------------------------------------------------- index


def default_index_path(world_dir: Path) -> Path:
    """Where the index of a world lives unless told otherwise."""
    return world_dir / "stripe" / INDEX_FILENAME


def _source_files(stripe_dir: Path) -> list[Path]:
    files = [stripe_dir / f"{resource}.jsonl" for resource in RESOURCES]
    files.append(stripe_dir / COMPOSITION_FILENAME)
    return [f for f in files if f.exists()]


def _signature(stripe_dir: Path) -> str:
    """Names, sizes and modification times of the source files: a changed file rebuilds."""
    parts = []
    for f in _source_files(stripe_dir):
        st = f.stat()
        parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def _index_is_current(index_path: Path, signature: str) -> bool:
    if not index_path.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
        try:
            row = con.execute("select value from meta where key = 'signature'").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == signature


def _create_resource_table(con: sqlite3.Connection, resource: str) -> None:
    con.execute(
        f"create table {resource} (id text not null, created integer not null, type text, json text not null)"
    )


def _index_resource_table(con: sqlite3.Connection, resource: str) -> None:
    try:
        con.execute(f"create unique index {resource}_pk on {resource} (id)")
    except sqlite3.IntegrityError:
        # the same id on two lines: the later line wins, as a later snapshot would
        logger.warning("%s.jsonl repeats ids; keeping the last line of each", resource)
        con.execute(
            f"delete from {resource} where rowid not in (select max(rowid) from {resource} group by id)"
        )
        con.execute(f"create unique index {resource}_pk on {resource} (id)")
    con.execute(f"create index {resource}_order on {resource} (created desc, id desc)")
    if resource in TYPE_FILTERED:
        con.execute(f"create index {resource}_type on {resource} (type, created desc, id desc)")


def _rows_of(path: Path, resource: str) -> Iterator[tuple[str, int, str | None, str]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                obj = _loads(text)
                object_id = obj["id"]
                created = obj["created"]
            except (ValueError, KeyError, TypeError) as exc:
                raise UserError(
                    f"{path}:{number}: not a Stripe object with an id and a created time ({exc}); "
                    "regenerate the world"
                ) from exc
            if not isinstance(object_id, str) or not isinstance(created, int):
                raise UserError(f"{path}:{number}: id must be a string and created an integer")
            kind = obj.get("type") if resource in TYPE_FILTERED else None
            yield object_id, created, kind if isinstance(kind, str) else None, text


def _batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def build_index(world_dir: Path, index_path: Path | None = None) -> dict[str, int]:
    """Build the SQLite index of a world's `stripe/` folder; returns the rows per table.

    Streams each jsonl file in batches into a temporary file, indexes it after loading
    (much faster than keeping a B-tree ordered while inserting) and moves it into place,
    so a reader never sees a half-built index.
    """
    stripe_dir = world_dir / "stripe"
    if not stripe_dir.is_dir():
        raise UserError(f"{world_dir} has no stripe/ folder: generate a world first")
    target = index_path or default_index_path(world_dir)
    signature = _signature(stripe_dir)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    counts: dict[str, int] = {}
    con = sqlite3.connect(tmp)
    try:
        con.execute("pragma journal_mode = off")
        con.execute("pragma synchronous = off")
        con.execute("pragma cache_size = -200000")
        con.execute("pragma temp_store = memory")
        con.execute("create table meta (key text primary key, value text not null)")
        for resource in RESOURCES:
            _create_resource_table(con, resource)
            path = stripe_dir / f"{resource}.jsonl"
            n = 0
            if path.exists():
                for batch in _batched(_rows_of(path, resource), BUILD_BATCH):
                    con.executemany(
                        f"insert into {resource} (id, created, type, json) values (?, ?, ?, ?)",
                        batch,
                    )
                    n += len(batch)
            _index_resource_table(con, resource)
            counts[resource] = n
        con.execute(
            "create table payout_balance_transactions (payout_id text not null, "
            "balance_transaction_id text not null, primary key (payout_id, balance_transaction_id))"
            " without rowid"
        )
        composition = stripe_dir / COMPOSITION_FILENAME
        n = 0
        if composition.exists():
            with composition.open(encoding="utf-8", newline="") as f:
                pairs = ((r["payout_id"], r["balance_transaction_id"]) for r in csv.DictReader(f))
                for batch in _batched(pairs, BUILD_BATCH):
                    con.executemany(
                        "insert or ignore into payout_balance_transactions values (?, ?)", batch
                    )
                    n += len(batch)
        counts["payout_balance_transactions"] = n
        con.execute("insert into meta values ('signature', ?)", (signature,))
        con.commit()
        con.execute("pragma journal_mode = wal")  # readers and the upserts coexist
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, target)
    for suffix in ("-wal", "-shm"):  # a stale log of the replaced file must not be replayed
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return counts


def ensure_index(
    world_dir: Path, index_path: Path | None = None, *, rebuild: bool = False
) -> float | None:
    """Build the index if it is missing, stale or `rebuild` is set; returns the build seconds
    (None when the existing index was current)."""
    target = index_path or default_index_path(world_dir)
    stripe_dir = world_dir / "stripe"
    if not stripe_dir.is_dir():
        raise UserError(f"{world_dir} has no stripe/ folder: generate a world first")
    if not rebuild and _index_is_current(target, _signature(stripe_dir)):
        logger.info("Stripe index %s is current", target)
        return None
    started = time.perf_counter()
    counts = build_index(world_dir, target)
    seconds = time.perf_counter() - started
    logger.info(
        "built Stripe index %s: %d objects in %.1f s (%s)",
        target,
        sum(v for k, v in counts.items() if k in RESOURCES),
        seconds,
        ", ".join(f"{k} {v}" for k, v in counts.items()),
    )
    return seconds


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class StripeAPIStats:
    """A snapshot of the server's request counters."""

    total: int = 0
    by_path: dict[str, int] = field(default_factory=dict)
    by_status: dict[int, int] = field(default_factory=dict)
    stripe_versions: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    injected_failures: int = 0
    objects_served: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_path": dict(self.by_path),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "stripe_versions": dict(self.stripe_versions),
            "rate_limited": self.rate_limited,
            "injected_failures": self.injected_failures,
            "objects_served": self.objects_served,
        }


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.by_path: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.stripe_versions: Counter[str] = Counter()
        self.rate_limited = 0
        self.injected_failures = 0
        self.objects_served = 0

    def snapshot(self) -> StripeAPIStats:
        with self.lock:
            return StripeAPIStats(
                total=self.total,
                by_path=dict(self.by_path),
                by_status=dict(self.by_status),
                stripe_versions=dict(self.stripe_versions),
                rate_limited=self.rate_limited,
                injected_failures=self.injected_failures,
                objects_served=self.objects_served,
            )


# --------------------------------------------------------------------------- errors


class _APIError(Exception):
    """An answer in Stripe's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param:
            error["param"] = self.param
        if self.status != 401:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error["type"] = self.error_type
        return {"error": error}


def _no_such(resource: str, object_id: str, param: str) -> _APIError:
    return _APIError(
        404,
        f"No such {RESOURCES[resource]}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def mask_key(key: str) -> str:
    """Stripe's way of echoing a bad key: its prefix, stars, and only the last four chars."""
    prefix = ""
    for p in ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_"):
        if key.startswith(p) and len(key) > len(p) + 4:
            prefix = p
            break
    rest = key[len(prefix) :]
    if len(rest) <= 4:
        return prefix + "*" * len(rest)
    return prefix + "*" * 4 + rest[-4:]


# --------------------------------------------------------------------------- store


class _Store:
    """Reads and writes the index through a small pool of SQLite connections."""

    def __init__(self, index_path: Path, pool_size: int = POOL_SIZE) -> None:
        self.index_path = index_path
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._write_lock = threading.Lock()
        for _ in range(pool_size):
            con = sqlite3.connect(index_path, check_same_thread=False, isolation_level=None)
            con.execute("pragma busy_timeout = 10000")
            self._pool.put(con)
            self._all.append(con)

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        con = self._pool.get()
        try:
            yield con
        finally:
            self._pool.put(con)

    def close(self) -> None:
        for con in self._all:
            con.close()
        self._all.clear()

    def retrieve(self, resource: str, object_id: str) -> str | None:
        with self.connection() as con:
            row = con.execute(f"select json from {resource} where id = ?", (object_id,)).fetchone()
        return None if row is None else str(row[0])

    def list_page(
        self,
        resource: str,
        *,
        limit: int,
        starting_after: str | None,
        ending_before: str | None,
        created: Sequence[tuple[str, int]],
        payout: str | None,
        kind: str | None,
    ) -> tuple[list[str], bool]:
        """One page in Stripe's order (created desc, id desc) and whether more follow."""
        table = resource
        where: list[str] = []
        args: list[Any] = []
        if payout is not None:
            table = (
                f"{resource} join payout_balance_transactions p "
                f"on p.balance_transaction_id = {resource}.id"
            )
            where.append("p.payout_id = ?")
            args.append(payout)
        for op, value in created:
            where.append(f"{resource}.created {op} ?")
            args.append(value)
        if kind is not None:
            if "*" in kind:
                where.append(f"{resource}.type glob ?")
            else:
                where.append(f"{resource}.type = ?")
            args.append(kind)
        with self.connection() as con:
            if (
                payout is not None
                and con.execute("select 1 from payouts where id = ?", (payout,)).fetchone() is None
            ):
                raise _no_such("payouts", payout, "payout")
            forward = True
            cursor_id = starting_after
            if ending_before is not None:
                forward = False
                cursor_id = ending_before
            if cursor_id is not None:
                row = con.execute(
                    f"select created from {resource} where id = ?", (cursor_id,)
                ).fetchone()
                if row is None:
                    raise _no_such(
                        resource, cursor_id, "starting_after" if forward else "ending_before"
                    )
                where.append(
                    f"({resource}.created, {resource}.id) {'<' if forward else '>'} (?, ?)"
                )
                args.extend([row[0], cursor_id])
            order = "desc" if forward else "asc"
            sql = (
                f"select {resource}.json from {table}"
                + (f" where {' and '.join(where)}" if where else "")
                + f" order by {resource}.created {order}, {resource}.id {order} limit ?"
            )
            args.append(limit + 1)
            rows = [str(r[0]) for r in con.execute(sql, args)]
        has_more = len(rows) > limit
        del rows[limit:]
        if not forward:
            rows.reverse()
        return rows, has_more

    def upsert(self, resource: str, obj: Mapping[str, Any]) -> None:
        object_id = obj.get("id")
        created = obj.get("created")
        if not isinstance(object_id, str) or not object_id:
            raise UserError(f"an upserted {RESOURCES[resource]} needs a string id")
        if not isinstance(created, int) or isinstance(created, bool):
            raise UserError(f"an upserted {RESOURCES[resource]} needs an integer created time")
        kind = obj.get("type") if resource in TYPE_FILTERED else None
        text = json.dumps(obj, separators=(",", ":"))
        self.put(resource, object_id, created, kind if isinstance(kind, str) else None, text)

    def put(self, resource: str, object_id: str, created: int, kind: str | None, text: str) -> None:
        """Store `text` as the object listed at (`created`, `object_id`), whatever it holds."""
        with self._write_lock, self.connection() as con:
            con.execute(
                f"insert into {resource} (id, created, type, json) values (?, ?, ?, ?) "
                "on conflict (id) do update set created = excluded.created, "
                "type = excluded.type, json = excluded.json",
                (object_id, created, kind, text),
            )

    def set_composition(self, payout_id: str, txn_ids: Sequence[str]) -> None:
        with self._write_lock, self.connection() as con:
            con.execute("begin immediate")
            try:
                con.execute(
                    "delete from payout_balance_transactions where payout_id = ?", (payout_id,)
                )
                con.executemany(
                    "insert or ignore into payout_balance_transactions values (?, ?)",
                    [(payout_id, t) for t in txn_ids],
                )
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("commit")


# --------------------------------------------------------------------------- HTTP


def _parse_int(params: Mapping[str, str], name: str) -> int:
    value = params[name]
    try:
        return int(value)
    except ValueError:
        raise _APIError(400, f"Invalid integer: {value}", param=name) from None


def _list_envelope(resource: str, rows: Sequence[str], has_more: bool) -> bytes:
    return (
        '{"object":"list","data":['
        + ",".join(rows)
        + f'],"has_more":{"true" if has_more else "false"},"url":"/v1/{resource}"}}'
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the stripe library reuses its connections
    disable_nagle_algorithm = True
    server_version = "recon-stripe-api/1"
    sys_version = ""
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        # requests are counted in stats; nothing about a request (headers, keys) is logged
        logger.debug("%s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        owner = self.server.owner
        request_id = "req_" + secrets.token_hex(7)
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        version = self.headers.get("Stripe-Version")
        status = 500
        extra_headers: dict[str, str] = {}
        objects = 0
        try:
            body_in = self._read_body()
            if path == "/_stats" and method == "GET":
                status, body = 200, json.dumps(owner.stats.to_json()).encode()
            else:
                self._authenticate()
                if path.startswith("/_admin/"):
                    status, body = 200, owner._admin(method, path, body_in)
                else:
                    owner._admit()
                    status, body, objects = owner._api(method, path, split.query)
        except _APIError as err:
            status = err.status
            extra_headers = err.headers
            body = json.dumps(err.body(request_id)).encode()
        except Exception:
            logger.exception("internal error answering %s %s", method, path)
            status = 500
            body = json.dumps(
                _APIError(500, "An unknown error occurred", error_type="api_error").body(request_id)
            ).encode()
        owner._count(path, status, version, objects)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", request_id)
        self.send_header("Stripe-Version", version or owner.api_version)
        for name, value in extra_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization") or ""
        key: str | None = None
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            key = credentials.strip()
        elif scheme.lower() == "basic" and credentials.strip():
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            key = decoded.partition(":")[0] or None
        owner = self.server.owner
        if key is None:
            raise _APIError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
                headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
            )
        if key not in owner.api_keys:
            logger.info("rejected a request with an invalid API key")  # never the key itself
            raise _APIError(
                401,
                f"Invalid API Key provided: {mask_key(key)}",
                headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
            )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    owner: StripeAPIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up mid-answer is not the server's error; keep stderr quiet
        logger.debug("connection from %s ended with an error", client_address[0], exc_info=True)


class StripeAPIServer:
    """A Stripe-compatible API over a world directory, on the loopback interface only.

    Use as a context manager (`with StripeAPIServer(world) as api: ... api.url`) or call
    `start()`/`stop()`; `serve_forever()` blocks (the command line uses it).
    """

    api_version = "2025-02-24.acacia"

    def __init__(
        self,
        world_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Sequence[str] = (DEFAULT_API_KEY,),
        rate_limit: float | None = None,
        fail_rate: float = 0.0,
        fail_seed: int = 0,
        should_retry_header: bool = True,
        index_path: Path | None = None,
        rebuild: bool = False,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise UserError(f"the local Stripe API binds the loopback interface only, not {host!r}")
        if isinstance(api_keys, str):
            raise UserError("api_keys is a sequence of keys, not one string")
        if not api_keys:
            raise UserError("give the local Stripe API at least one accepted key")
        if rate_limit is not None and rate_limit <= 0:
            raise UserError("rate_limit must be a positive number of requests per second")
        if not 0.0 <= fail_rate <= 1.0:
            raise UserError("fail_rate must be between 0 and 1")
        self.world_dir = Path(world_dir)
        self.index_path = index_path or default_index_path(self.world_dir)
        self.api_keys = frozenset(api_keys)
        self.rate_limit = rate_limit
        self.fail_rate = fail_rate
        self.should_retry_header = should_retry_header
        self.index_build_seconds = ensure_index(self.world_dir, self.index_path, rebuild=rebuild)
        self._store = _Store(self.index_path)
        self._counters = _Counters()
        self._window: deque[float] = deque()
        self._window_lock = threading.Lock()
        self._fail_random = random.Random(fail_seed)
        self._fail_lock = threading.Lock()
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        self.host = "127.0.0.1"
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> StripeAPIServer:
        """Serve in a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"stripe-api-{self.port}",
                daemon=True,
            )
            self._thread.start()
            logger.info("local Stripe API serving %s at %s", self.world_dir, self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted or `stop()`."""
        logger.info("local Stripe API serving %s at %s", self.world_dir, self.url)
        try:
            self._httpd.serve_forever()
        finally:
            self._close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._httpd.server_close()
        self._store.close()

    def __enter__(self) -> StripeAPIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- stats and mutation

    @property
    def stats(self) -> StripeAPIStats:
        return self._counters.snapshot()

    def reset_stats(self) -> None:
        with self._counters.lock:
            self._counters.reset()

    def upsert(self, resource: str, obj: Mapping[str, Any]) -> None:
        """Insert or replace one object (it needs `id` and integer `created`)."""
        self._store.upsert(self._resource(resource), obj)

    def serve_malformed(self, resource: str, body: str, *, listed_as: str, created: int) -> None:
        """Serve `body`, any JSON text, as one object of `resource` (an object without `id`, one
        whose `created` is "yesterday", a list...), placed in list order and in `created`
        filters as if its id were `listed_as` and its `created` `created`. Real Stripe never
        sends such objects and `upsert` refuses them; a faulty Stripe-compatible server or proxy
        might: this is for tests of how a loader copes with them."""
        json.loads(body)  # a list page is spliced from the objects' texts: it must stay JSON
        self._store.put(self._resource(resource), listed_as, created, None, body)

    def upsert_payout_composition(self, payout_id: str, txn_ids: Sequence[str]) -> None:
        """Set which balance transactions a payout settled (its own included)."""
        if isinstance(txn_ids, str):
            raise UserError("txn_ids is a sequence of balance transaction ids")
        self._store.set_composition(payout_id, list(txn_ids))

    # ---- webhooks

    def send_events(
        self,
        url: str,
        secret: str,
        *,
        types: Collection[str] | None = WEBHOOK_EVENT_TYPES,
        created_gte: int | None = None,
        created_lt: int | None = None,
        **options: Any,
    ) -> DeliveryReport:
        """POST the world's events (as written in `stripe/events.jsonl`; upserts are not sent)
        of `types` (None: all) created in [created_gte, created_lt) to the webhook endpoint
        `url`, signed with `secret` as Stripe signs them. `options` are `deliver_events`'s
        (duplicate_rate, reorder_window, seed, concurrency, max_rate, max_attempts, timeout)."""
        events = world_events(
            self.world_dir, types=types, created_gte=created_gte, created_lt=created_lt
        )
        return deliver_events(events, url, secret, **options)

    @staticmethod
    def _resource(resource: str) -> str:
        if resource not in RESOURCES:
            raise UserError(f"unknown resource {resource!r}; one of {', '.join(RESOURCES)}")
        return resource

    # ---- request handling (called from the handler threads)

    def _count(self, path: str, status: int, version: str | None, objects: int) -> None:
        match = _ID_IN_PATH.match(path)
        key = f"{match.group(1)}/{{id}}" if match else path
        with self._counters.lock:
            c = self._counters
            c.total += 1
            c.by_path[key] += 1
            c.by_status[status] += 1
            if version:
                c.stripe_versions[version] += 1
            if status == 429:
                c.rate_limited += 1
            c.objects_served += objects

    def _admit(self) -> None:
        """The rate limit, then the injected failures."""
        if self.rate_limit is not None:
            now = time.monotonic()
            with self._window_lock:
                while self._window and self._window[0] <= now - 1.0:
                    self._window.popleft()
                limited = len(self._window) >= self.rate_limit
                if not limited:
                    self._window.append(now)
            if limited:
                headers = {"Retry-After": "1"}
                if self.should_retry_header:
                    headers["Stripe-Should-Retry"] = "true"
                raise _APIError(
                    429,
                    "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                    code="rate_limit",
                    headers=headers,
                )
        if self.fail_rate > 0.0:
            with self._fail_lock:
                fail = self._fail_random.random() < self.fail_rate
            if fail:
                with self._counters.lock:
                    self._counters.injected_failures += 1
                raise _APIError(
                    500,
                    "An unknown error occurred (injected by the local Stripe API's fail_rate).",
                    error_type="api_error",
                )

    def _api(self, method: str, path: str, query: str) -> tuple[int, bytes, int]:
        parts = path.split("/")
        if len(parts) < 3 or parts[1] != "v1" or parts[2] not in RESOURCES or len(parts) > 4:
            raise _APIError(404, f"Unrecognized request URL ({method}: {path}).")
        resource = parts[2]
        if method != "GET":
            raise _APIError(
                405,
                f"This local Stripe-compatible API is read-only: {method} {path} is not served.",
            )
        pairs = parse_qsl(query, keep_blank_values=True)
        params: dict[str, str] = {}
        for name, value in pairs:
            if name in params:
                raise _APIError(400, f"Received duplicate parameter: {name}", param=name)
            params[name] = value
        if len(parts) == 4:
            if params:
                name = next(iter(params))
                raise _APIError(400, f"Received unknown parameter: {name}", param=name)
            text = self._store.retrieve(resource, parts[3])
            if text is None:
                raise _no_such(resource, parts[3], "id")
            return 200, text.encode(), 1
        allowed = LIST_PARAMS | EXTRA_LIST_PARAMS.get(resource, frozenset())
        for name in params:
            if name not in allowed:
                raise _APIError(400, f"Received unknown parameter: {name}", param=name)
        limit = 10
        if "limit" in params:
            limit = _parse_int(params, "limit")
            if not 1 <= limit <= 100:
                raise _APIError(
                    400,
                    f"Invalid limit: must be between 1 and 100, got {limit}.",
                    param="limit",
                )
        starting_after = params.get("starting_after") or None
        ending_before = params.get("ending_before") or None
        if starting_after and ending_before:
            raise _APIError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        created = [
            (op, _parse_int(params, name))
            for name, op in CREATED_OPERATORS.items()
            if name in params
        ]
        payout = params.get("payout")
        if payout is not None and not payout:
            raise _APIError(400, "Invalid payout: must be a payout id", param="payout")
        kind = params.get("type") or None
        rows, has_more = self._store.list_page(
            resource,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            payout=payout,
            kind=kind,
        )
        return 200, _list_envelope(resource, rows, has_more), len(rows)

    def _admin(self, method: str, path: str, body: bytes) -> bytes:
        if method != "POST":
            raise _APIError(405, f"{method} {path}: admin endpoints take POST")
        parts = path.split("/")  # ['', '_admin', verb, arg]
        if len(parts) != 4:
            raise _APIError(404, f"Unrecognized request URL ({method}: {path}).")
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            raise _APIError(400, "The body must be JSON.") from None
        verb, arg = parts[2], parts[3]
        try:
            if verb == "upsert":
                objs = payload if isinstance(payload, list) else [payload]
                if not all(isinstance(o, dict) for o in objs):
                    raise _APIError(400, "Upsert a JSON object or a list of objects.")
                for obj in objs:
                    self.upsert(arg, obj)
                return json.dumps({"upserted": len(objs)}).encode()
            if verb == "payout_composition":
                if not isinstance(payload, list) or not all(isinstance(t, str) for t in payload):
                    raise _APIError(400, "The body must be a JSON list of balance transaction ids.")
                self.upsert_payout_composition(arg, payload)
                return json.dumps({"payout": arg, "balance_transactions": len(payload)}).encode()
        except UserError as exc:
            raise _APIError(400, str(exc)) from None
        raise _APIError(404, f"Unrecognized request URL ({method}: {path}).")


# --------------------------------------------------------------------------- command line


WEBHOOK_SECRET_ENV = "STRIPE_WEBHOOK_SECRET"
# the delivery options, which only --send-events-to uses (dest -> flag)
_SEND_OPTIONS = {
    "duplicate_rate": "--duplicate-rate",
    "reorder_window": "--reorder-window",
    "since": "--since",
    "until": "--until",
    "max_rate": "--max-rate",
    "concurrency": "--concurrency",
    "event_types": "--event-type",
    "delivery_seed": "--delivery-seed",
}


def _send_events(args: argparse.Namespace) -> int:
    """--send-events-to: deliver the world's webhook events, print the report, exit."""
    secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
    if not secret.strip():
        print(
            f"error: set {WEBHOOK_SECRET_ENV} to the webhook endpoint's signing secret "
            "(whsec_...): it is read from the environment only.",
            flush=True,
        )
        return 2
    try:
        report = deliver_events(
            world_events(
                args.world,
                types=args.event_types or WEBHOOK_EVENT_TYPES,
                created_gte=args.since,
                created_lt=args.until,
            ),
            args.send_events_to,
            secret,
            duplicate_rate=args.duplicate_rate or 0.0,
            reorder_window=args.reorder_window or 0,
            seed=args.delivery_seed or 0,
            concurrency=4 if args.concurrency is None else args.concurrency,
            max_rate=args.max_rate,
        )
    except UserError as exc:
        print(f"error: {exc}", flush=True)
        return 2
    print(f"sent {report.summary()}", flush=True)
    if report.events == 0:
        print("no event of the world matched the types and --since/--until given", flush=True)
        return 0
    if report.deliveries == 0:
        print(
            f"error: {report.url} never answered: is the webhook service running there?",
            flush=True,
        )
        return 2
    if report.unacknowledged:
        first = report.rejected_samples[0] if report.rejected_samples else None
        detail = (
            f"first rejected: {first['event_id']} HTTP {first['status']}: {first['body']!r}"
            if first
            else f"first failed: {', '.join(report.failed[:3])}"
        )
        print(f"{len(report.unacknowledged):,} events never acknowledged; {detail}", flush=True)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m demoworld.stripe_api --world DIR [--port 12111] [--rate-limit N] [--fail-rate F]`,
    or with `--send-events-to URL [...]`: send the world's webhook events to URL and exit."""
    parser = argparse.ArgumentParser(
        prog="python -m demoworld.stripe_api",
        description="Serve a demo world's stripe/ folder as a local Stripe-compatible API on "
        "127.0.0.1, or (--send-events-to) send its events to a webhook endpoint as Stripe does.",
    )
    parser.add_argument(
        "--world", type=Path, required=True, help="the world directory (holds stripe/)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks one"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"an accepted key (repeatable; default {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="requests per second, then 429"
    )
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, help="share of requests answered 500"
    )
    parser.add_argument("--fail-seed", type=int, default=0)
    parser.add_argument(
        "--no-should-retry-header", action="store_true", help="429s without Stripe-Should-Retry"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the index even if current")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    send = parser.add_argument_group(
        "webhooks",
        f"--send-events-to sends the world's events instead of serving, signed with the secret "
        f"in {WEBHOOK_SECRET_ENV}; it prints a report and exits 0 when every event was "
        "acknowledged, 1 when some never were, 2 when it could not run",
    )
    send.add_argument(
        "--send-events-to",
        metavar="URL",
        help="the webhook endpoint, e.g. http://127.0.0.1:8000/webhooks/stripe",
    )
    send.add_argument(
        "--event-type",
        action="append",
        dest="event_types",
        metavar="TYPE",
        help=f"an event type to send (repeatable; default: {', '.join(WEBHOOK_EVENT_TYPES)})",
    )
    send.add_argument(
        "--since", type=int, metavar="UNIX_S", help="only events created at or after this"
    )
    send.add_argument("--until", type=int, metavar="UNIX_S", help="only events created before this")
    send.add_argument(
        "--duplicate-rate",
        type=float,
        metavar="P",
        help="share of events delivered a second time a little later (default 0)",
    )
    send.add_argument(
        "--reorder-window",
        type=int,
        metavar="N",
        help="shuffle the events within consecutive windows of N (default 0: file order)",
    )
    send.add_argument(
        "--max-rate", type=float, metavar="PER_S", help="at most this many requests a second"
    )
    send.add_argument(
        "--concurrency", type=int, metavar="N", help="parallel connections (default 4)"
    )
    send.add_argument(
        "--delivery-seed",
        type=int,
        metavar="SEED",
        help="seed of the duplicates and the shuffling (default 0)",
    )
    args = parser.parse_args(argv)
    if args.send_events_to is None:
        given = [flag for dest, flag in _SEND_OPTIONS.items() if getattr(args, dest) is not None]
        if given:
            parser.error(f"{', '.join(given)} only apply with --send-events-to URL")
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose
        else (logging.WARNING if args.send_events_to else logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.send_events_to is not None:
        return _send_events(args)
    try:
        server = StripeAPIServer(
            args.world,
            port=args.port,
            api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
            rate_limit=args.rate_limit,
            fail_rate=args.fail_rate,
            fail_seed=args.fail_seed,
            should_retry_header=not args.no_should_retry_header,
            rebuild=args.rebuild,
        )
    except (UserError, OSError) as exc:
        print(f"error: {exc}", flush=True)
        return 2
    if args.api_keys is None:
        print(f"demo key: {DEFAULT_API_KEY}")
    if server.index_build_seconds is not None:
        print(f"index built in {server.index_build_seconds:.1f} s")
    print(
        f"Stripe-compatible API at {server.url}  (STRIPE_API_BASE={server.url}; stats at {server.url}/_stats)"
    )
    print("Ctrl-C stops it.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
