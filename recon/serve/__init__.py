"""`recon serve`: Stripe webhooks in, the marts kept current within seconds.

An ASGI application (Starlette, served by uvicorn) with two routes:

- `POST /webhooks/stripe`: verifies `Stripe-Signature` with the endpoint secret through the
  `stripe` library (a bad or missing signature, or a timestamp outside the tolerance: 400),
  stores the event in the inbox (recon.serve.inbox) and answers 200 only once it is on disk. A
  duplicate delivery answers 200 too and stores nothing new.
- `GET /healthz`: the inbox's counts, the last micro-batch and the last BI copy published, as JSON.

A micro-batcher process (recon.serve.microbatch) applies the stored events to the warehouse,
rebuilds the models they affect and publishes the marts to the BI copy (recon.bi_copy). See
DECISIONLOG.md, "Webhooks: one writer, micro-batches".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.errors import UserError
from core.settings import Settings
from recon.serve.inbox import Committer, Inbox, Received
from recon.serve.microbatch import KEEP_DAYS, BatcherProcess

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
TOLERANCE_S = 300  # Stripe's default: a signature older than five minutes is refused
MAX_BODY = 1_048_576  # Stripe's events are far smaller


@dataclass(frozen=True)
class ServeConfig:
    settings: Settings
    secret: str
    inbox_path: Path
    tolerance: int = TOLERANCE_S
    batching: bool = True  # False: store only (the inbox is applied by a later service run)
    pipelines_dir: Path | None = None
    keep_days: int = KEEP_DAYS

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"ServeConfig(inbox_path={self.inbox_path}, tolerance={self.tolerance}, batching={self.batching})"


def default_inbox_path(settings: Settings) -> Path:
    """The inbox beside the warehouse file: `<warehouse>.webhooks.sqlite`."""
    return settings.warehouse.with_name(settings.warehouse.name + ".webhooks.sqlite")


def secret_from(env: Any) -> str:
    secret = env.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        raise UserError(
            "STRIPE_WEBHOOK_SECRET is not set: export the endpoint's signing secret (whsec_...) "
            "from the Stripe dashboard or `stripe listen`."
        )
    return secret


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _parse_event(body: bytes) -> Received | str:
    """The event's identity from its body, or why it is not an event."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "the body is not JSON"
    if not isinstance(event, dict):
        return "the body is not a JSON object"
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    if event.get("object") != "event" or not isinstance(event_id, str) or not event_id:
        return "the body is not a Stripe event (no event id)"
    if not isinstance(event_type, str) or not isinstance(created, int) or not isinstance(data, dict):
        return f"event {event_id} lacks its type, created time or data"
    obj = data.get("object")
    if not isinstance(obj, dict):
        return f"event {event_id} carries no object"
    object_id = obj.get("id")
    return Received(
        event_id=event_id,
        event_type=event_type,
        event_created=created,
        object_type=str(obj.get("object")) if obj.get("object") is not None else None,
        object_id=str(object_id) if object_id is not None else None,
        payload=body,
    )


def create_app(config: ServeConfig) -> Starlette:
    """The webhook service's ASGI application."""
    state: dict[str, Any] = {}
    refused: dict[str, int] = {}  # reason -> deliveries answered 4xx/5xx since start, for /healthz

    def refuse(status: int, message: str, reason: str) -> JSONResponse:
        """A delivery not stored: said to the sender, logged, counted (never the body or secret)."""
        refused[reason] = refused.get(reason, 0) + 1
        log.warning("webhook delivery refused with %d: %s", status, message)
        return _error(status, message)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        inbox = Inbox(config.inbox_path)
        batcher = (
            BatcherProcess(
                config.settings, config.inbox_path, pipelines_dir=config.pipelines_dir, keep_days=config.keep_days
            )
            if config.batching else None
        )
        committer = Committer(config.inbox_path, on_commit=batcher.notify if batcher else None)
        state.update(inbox=inbox, batcher=batcher, committer=committer)
        watchdog: asyncio.Task[None] | None = None
        if batcher is not None:
            batcher.start()
            watchdog = asyncio.create_task(_watch(batcher))
        log.info("recon serve: inbox %s", config.inbox_path)
        try:
            yield
        finally:
            if watchdog is not None:
                watchdog.cancel()
            committer.close()
            if batcher is not None:
                batcher.stop()
            inbox.close()

    async def webhook(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:  # refused before it is read
            return refuse(413, f"the body is larger than {MAX_BODY} bytes", "too_large")
        body = await request.body()
        if len(body) > MAX_BODY:
            return refuse(413, f"the body is larger than {MAX_BODY} bytes", "too_large")
        header = request.headers.get("stripe-signature")
        if not header:
            return refuse(400, "missing Stripe-Signature header", "no_signature")
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError:
            return refuse(400, "the body is not UTF-8", "not_an_event")
        try:
            stripe.WebhookSignature.verify_header(payload, header, config.secret, config.tolerance)
        except stripe.SignatureVerificationError as error:
            # The library's message says which check failed (no signature matched, timestamp
            # outside the tolerance); it never contains the secret.
            return refuse(400, f"signature verification failed: {error.user_message or error}", "bad_signature")
        received = _parse_event(body)
        if isinstance(received, str):
            return refuse(400, received, "not_an_event")
        try:
            is_new = await state["committer"].store(received)
        except Exception:  # not stored: Stripe must deliver again
            return refuse(503, "the event could not be stored; deliver it again", "not_stored")
        return JSONResponse({"received": True, "id": received.event_id, "duplicate": not is_new})

    async def healthz(request: Request) -> Response:
        inbox: Inbox = state["inbox"]
        batcher: BatcherProcess | None = state["batcher"]
        status = inbox.status()
        body: dict[str, Any] = {
            "status": "ok", "inbox": inbox.counts(), "last_batch": inbox.last_batch(), "batcher": status,
            "refused": dict(refused), "bi_copy": inbox.published(),
        }
        if batcher is not None:
            body["batcher_pid"] = batcher.pid
            body["batcher_restarts"] = batcher.restarts
        if batcher is not None and not batcher.alive:
            body["status"] = "degraded"
            body["last_error"] = "the micro-batcher process is not running (a new one starts within seconds)"
        elif status is not None and status["error"]:
            body["status"] = "degraded"
            body["last_error"] = status["error"]
        return JSONResponse(body)

    return Starlette(
        routes=[
            Route("/webhooks/stripe", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def _watch(batcher: BatcherProcess, every: float = 2.0) -> None:
    """Restart the micro-batcher if it dies; the inbox keeps its events meanwhile."""
    while True:
        await asyncio.sleep(every)
        batcher.ensure_running()


def run_server(config: ServeConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (uvicorn handles SIGINT and SIGTERM: the batch under way finishes)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False)
