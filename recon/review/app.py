"""The review page's ASGI application (Starlette, server-rendered Jinja2, a little plain JavaScript).

Routes: `/login` and `/logout`; `/` the queue (filters in the query string, server-side pages);
`/match/{id}`, `/exception/{id}` and `/bank/{id}` (a bank statements' exception) an item with its evidence; POSTs that record decisions in the
store (recon.review.store), never in the warehouse; `/bulk-accept`; `/undo/{decision_id}`; `/log`
the decision log and its chain; `/settings` the auto-accept policy (an admin changes it,
recon.review.policy); `/autonomy` what the policy does and the audit sample (recon.review.autonomy). Every page but the sign-in needs a session; every form carries
the session's CSRF token; sessions are signed cookies that expire (SessionMiddleware, max_age).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from core.currencies import exponents
from core.errors import ReconError, SourceUnavailableError, UserError
from core.settings import Settings
from core.vocabulary import (
    BANK_DISPOSITION_OF_TYPE,
    BANK_EXCEPTION_TYPES,
    DISPOSITION_OF_TYPE,
    DISPOSITIONS,
    EXCEPTION_TYPES,
)
from recon.review.autonomy import (
    AUTO_ACCEPTED,
    EXCEPTION_RULES,
    REQUIRES_REVIEW,
    audits_in_force,
    measure,
)
from recon.review.policy import MATCH_TYPES, RuleInput, project_defaults
from recon.review.reads import BANK_RULES, PAGE_SIZE, QueueFilter, Warehouse, as_date, period_label
from recon.review.store import DecisionStore, InForce, MatchChoice, Resolution, Shown
from recon.review.users import User, authenticate, load_users

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_MAX_AGE_S = 8 * 3600  # a working day; then sign in again
BULK_LIMIT = 500  # pairs one bulk accept may confirm
NOTE_LIMIT = 2_000


@dataclass(frozen=True)
class ReviewConfig:
    settings: Settings
    users_path: Path
    store_path: Path
    secret: str
    session_max_age: int = SESSION_MAX_AGE_S
    https_only: bool = False

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"ReviewConfig(users_path={self.users_path}, store_path={self.store_path})"


def money(minor: object, currency: object) -> str:
    """Integer minor units as the currency's major units, exactly: `USD 1,234.50`, `JPY 4,800`;
    nothing when either is missing."""
    if not isinstance(minor, int) or isinstance(minor, bool) or not isinstance(currency, str) or not currency:
        return ""
    exponent = exponents().get(currency.lower(), 2)
    value = Decimal(minor).scaleb(-exponent)
    return f"{currency.upper()} {value:,.{exponent}f}"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.filters["money"] = money
    env.filters["day"] = as_date
    env.filters["period"] = period_label
    env.filters["pct"] = lambda value: "" if value is None else f"{Decimal(value) * 100:.1f}%"
    env.filters["share"] = lambda value: "-" if value is None else f"{value * 100:.1f}%"
    env.globals["MATCH_TYPES"] = MATCH_TYPES
    env.globals["DISPOSITION_OF_TYPE"] = DISPOSITION_OF_TYPE
    env.globals["EXCEPTION_TYPES"] = EXCEPTION_TYPES
    env.globals["BANK_DISPOSITION_OF_TYPE"] = BANK_DISPOSITION_OF_TYPE
    env.globals["BANK_EXCEPTION_TYPES"] = BANK_EXCEPTION_TYPES
    env.globals["DISPOSITIONS"] = DISPOSITIONS
    return templates


def create_app(config: ReviewConfig) -> Starlette:
    templates = _templates()
    # What an item page showed, signed into its forms: a decision is recorded even when the
    # warehouse is busy at the moment of the POST (recon run holds it), from what the person saw.
    signer = URLSafeSerializer(config.secret, salt="recon-review-item")
    warehouse = Warehouse(config.settings)
    store = DecisionStore(config.store_path)
    users = load_users(config.users_path)

    def current_user(request: Request) -> User | None:
        username = request.session.get("user")
        return users.get(username) if isinstance(username, str) else None

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return token

    def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
        user = current_user(request)
        base = {"user": user, "csrf": csrf_token(request), "flash": request.session.pop("flash", None),
                "undone": store.undone_ids() if user else set()}
        return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)

    def flash(request: Request, message: str) -> None:
        request.session["flash"] = message

    async def checked_form(request: Request) -> FormData:
        form = await request.form()
        sent = form.get("csrf")
        expected = request.session.get("csrf")
        if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
            raise _Forbidden("The form is out of date (its security token does not match): reload the page and try again.")
        return form

    Handler = Callable[[Request, User], Awaitable[Response]]

    def signed_in(handler: Handler, permission: str | None = None) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            user = current_user(request)
            if user is None:
                return RedirectResponse("/login?" + urlencode({"next": _local(request.url.path)}), status_code=303)
            if permission and not user.may(permission):
                return render(request, "error.html", {"message": f"Your role ({user.role}) may not do this."}, 403)
            try:
                return await handler(request, user)
            except _Forbidden as error:
                return render(request, "error.html", {"message": str(error)}, 403)
            except SourceUnavailableError as error:
                return render(request, "error.html", {"message": str(error), "retry": True}, 503)
            except UserError as error:
                return render(request, "error.html", {"message": str(error)}, 400)

        return endpoint

    # --- sign-in ---------------------------------------------------------------------------

    async def login(request: Request) -> Response:
        next_path = _local(request.query_params.get("next", "/"))
        if request.method == "GET":
            return render(request, "login.html", {"next": next_path, "error": None})
        try:
            form = await checked_form(request)
        except _Forbidden:
            return render(request, "login.html", {"next": next_path, "error": "The page was out of date: try again."}, 403)
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        user = authenticate(users, username, password)
        if user is None:
            log.warning("review: a sign-in as %r failed", username[:64])
            return render(request, "login.html", {"next": next_path, "error": "Wrong user name or password."}, 401)
        request.session.clear()  # a new session (and CSRF token) on sign-in
        request.session["user"] = user.username
        log.info("review: %s signed in", user.username)
        return RedirectResponse(_local(str(form.get("next") or "/")), status_code=303)

    async def logout(request: Request) -> Response:
        await checked_form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # --- the queue --------------------------------------------------------------------------

    def in_force_keys(forced: InForce | None = None) -> tuple[list[str], list[str]]:
        forced = forced or store.in_force()
        pairs = [f"{stripe_id}|{item}" for stripe_id, item in forced.matches]
        return pairs, list(forced.resolutions)

    async def queue(request: Request, user: User) -> Response:
        filters = QueueFilter.parse(request.query_params)
        forced = store.in_force()
        pairs, exceptions = in_force_keys(forced)
        page = warehouse.queue(filters, decided_pairs=pairs, decided_exceptions=exceptions)
        in_force_ids = {d.decision_id for d in (*forced.matches.values(), *forced.resolutions.values())}
        return render(request, "queue.html", {
            "filters": filters,
            "page": page,
            "page_size": PAGE_SIZE,
            "query": urlencode(filters.query()),
            "link": lambda **changes: "/?" + urlencode(filters.query(**changes)),
            "in_force": len(in_force_ids),
            # decided (or undone) since the last run loaded the log: what the next run changes
            "pending": len(in_force_ids ^ page.loaded_decisions),
            "match_types": ("charge_payment", "refund_payment", "payout_deposit"),
            "bulk_limit": BULK_LIMIT,
        })

    async def item_at(request: Request, user: User) -> Response:
        """The queue's item at position `i` (0-based) under the filters: j/k walk the queue, and
        after a decision the same position holds the next item (the decided one left)."""
        filters = QueueFilter.parse(request.query_params)
        position = _position(request.query_params.get("i"))
        pairs, exceptions = in_force_keys()
        page = warehouse.queue(
            replace(filters, page=position + 1), decided_pairs=pairs, decided_exceptions=exceptions, page_size=1
        )
        query = urlencode(filters.query(page=1))
        if not page.items or page.page != position + 1:
            flash(request, "That was the last item for these filters.")
            return RedirectResponse("/?" + query, status_code=303)
        item = page.items[0]
        return RedirectResponse(f"/{item.kind}/{item.item_id}?{query}&i={position}", status_code=303)

    # --- a match ----------------------------------------------------------------------------

    async def match_page(request: Request, user: User) -> Response:
        match_id = request.path_params["match_id"]
        row = warehouse.match(match_id)
        if row is None:
            return render(request, "error.html", {"message": f"No match {match_id} in the marts."}, 404)
        seen = {
            "match_id": row["match_id"], "match_type": row["match_type"], "stripe_object_id": row["stripe_object_id"],
            "rule_name": row["rule_name"], "status": row["status"],
            "erp_document_number": row["erp_document_number"], "erp_payment_number": row["erp_payment_number"],
            "erp_journal_number": row["erp_journal_number"],
            "candidates": [
                {name: c.get(name) for name in ("erp_document_number", "erp_payment_number", "erp_journal_number")}
                for c in row["candidates"]
            ],
        }
        return render(request, "match.html", {
            "m": row,
            "seen": signer.dumps(seen),
            "history": store.for_stripe_object(row["stripe_object_id"]),
            **_carried(request),
        })

    async def decide_match(request: Request, user: User) -> Response:
        form = await checked_form(request)
        match_id = request.path_params["match_id"]
        try:
            row = warehouse.match(match_id)
        except SourceUnavailableError:
            row = _seen(signer, form, match_id=match_id)
        if row is None:
            raise UserError(f"No match {match_id} in the marts.")
        action = form.get("action")
        pair = MatchChoice(
            row["stripe_object_id"], row["erp_document_number"], row["erp_payment_number"],
            row["erp_journal_number"], row["match_type"], row["match_id"], row.get("rule_name"), row.get("status"),
        )
        if action == "confirm":
            store.decide_matches([pair], "confirmed", who=user.username, role=user.role)
            flash(request, f"Confirmed {row['stripe_object_id']} with {_counterpart(row)}.")
        elif action == "reject":
            chosen = str(form.get("counterpart") or "")
            batch = uuid.uuid4().hex
            candidates = row["candidates"]
            if chosen == "none":
                rejected = [pair] + [_candidate_choice(row, c) for c in candidates]
                store.decide_matches(rejected, "rejected", who=user.username, role=user.role, batch_id=batch)
                flash(request, f"Rejected {row['stripe_object_id']} with {_counterpart(row)} and the other "
                               f"{len(candidates)} candidate(s): it stays unmatched.")
            else:
                picked = next((c for c in candidates if _candidate_key(c) == chosen), None)
                if chosen and picked is None:
                    raise UserError("That counterpart is not one of this item's candidates: reload the page.")
                store.decide_matches([pair], "rejected", who=user.username, role=user.role, batch_id=batch)
                if picked is not None:
                    store.decide_matches([_candidate_choice(row, picked)], "confirmed", who=user.username,
                                         role=user.role, batch_id=batch)
                    flash(request, f"Rejected {_counterpart(row)}; matched {row['stripe_object_id']} with "
                                   f"{_counterpart(picked)} instead.")
                else:
                    flash(request, f"Rejected {row['stripe_object_id']} with {_counterpart(row)}.")
        else:
            raise UserError("Choose confirm or reject.")
        return RedirectResponse("/at?" + _query_of(form), status_code=303)

    # --- an exception -----------------------------------------------------------------------

    async def exception_page(request: Request, user: User) -> Response:
        exception_id = request.path_params["exception_id"]
        row = warehouse.exception(exception_id)
        if row is None:
            return render(request, "error.html", {"message": f"No exception {exception_id} in the marts."}, 404)
        return render(request, "exception.html", {
            "e": row,
            "seen": signer.dumps({
                name: row.get(name)
                for name in ("exception_id", "object_id", "exception_type", "disposition", "requires_review",
                             "model_version")
            }),
            "history": store.for_exception(exception_id),
            **_carried(request),
        })

    async def resolve_exception(request: Request, user: User) -> Response:
        return await _resolve(request, user, bank=False)

    async def resolve_bank_exception(request: Request, user: User) -> Response:
        return await _resolve(request, user, bank=True)

    async def _resolve(request: Request, user: User, *, bank: bool) -> Response:
        """Resolve an exception (or, `bank`, a bank statements' exception) with a type of its own
        family, a disposition and a note."""
        form = await checked_form(request)
        exception_id = request.path_params["exception_id"]
        try:
            row = warehouse.bank_exception(exception_id) if bank else warehouse.exception(exception_id)
        except SourceUnavailableError:
            row = _seen(signer, form, exception_id=exception_id)
        if row is None:
            raise UserError(f"No {'bank ' if bank else ''}exception {exception_id} in the marts.")
        types = BANK_DISPOSITION_OF_TYPE if bank else DISPOSITION_OF_TYPE
        exception_type = str(form.get("exception_type") or "")
        if exception_type not in types:
            raise UserError(f"{exception_type[:40]!r} is not a type of this exception: one of {', '.join(types)}.")
        disposition = str(form.get("disposition") or types[exception_type])
        note = str(form.get("note") or "").strip()[:NOTE_LIMIT]
        store.resolve(
            Resolution(exception_id, row["object_id"], exception_type, disposition, note),
            who=user.username, role=user.role, shown=_exception_shown(row, bank=bank),
        )
        flash(request, f"Resolved {row['object_id']} as {exception_type} ({disposition}).")
        return RedirectResponse("/at?" + _query_of(form), status_code=303)

    async def bank_exception_page(request: Request, user: User) -> Response:
        exception_id = request.path_params["exception_id"]
        row = warehouse.bank_exception(exception_id)
        if row is None:
            return render(request, "error.html", {"message": f"No bank exception {exception_id} in the marts."}, 404)
        return render(request, "bank.html", {
            "e": row,
            "seen": signer.dumps({
                name: row.get(name)
                for name in ("exception_id", "object_id", "exception_type", "disposition", "requires_review")
            }),
            "history": store.for_exception(exception_id),
            **_carried(request),
        })

    # --- bulk, undo, the log ----------------------------------------------------------------

    async def bulk_accept(request: Request, user: User) -> Response:
        form = await checked_form(request)
        filters = QueueFilter.parse({name: str(value) for name, value in form.items()})
        pairs, _ = in_force_keys()
        rows = warehouse.queue_pairs(filters, decided_pairs=pairs, limit=BULK_LIMIT + 1)
        expected = str(form.get("expected") or "")
        if len(rows) > BULK_LIMIT:
            raise UserError(f"More than {BULK_LIMIT} suggestions fit these filters: narrow them first.")
        if not expected.isdigit() or int(expected) != len(rows):
            flash(request, f"The queue changed: {len(rows)} suggestion(s) fit these filters now; look and accept again.")
            return RedirectResponse("/?" + urlencode(filters.query()), status_code=303)
        choices = [
            MatchChoice(r["stripe_object_id"], r["erp_document_number"], r["erp_payment_number"],
                        r["erp_journal_number"], r["match_type"], r["match_id"], r["rule_name"], "suggested")
            for r in rows
        ]
        store.decide_matches(choices, "confirmed", who=user.username, role=user.role, batch_id=uuid.uuid4().hex)
        flash(request, f"Confirmed {len(choices)} suggested match(es).")
        return RedirectResponse("/?" + urlencode(filters.query(page=1)), status_code=303)

    async def undo(request: Request, user: User) -> Response:
        form = await checked_form(request)
        decision = store.get(request.path_params["decision_id"])
        if decision is None:
            raise UserError("No such decision.")
        if decision.decided_by != user.username and not user.may("undo_any"):
            raise _Forbidden("A reviewer undoes their own decisions only; ask an approver.")
        store.undo(decision.decision_id, who=user.username, role=user.role)
        flash(request, f"Undone: {decision.action} {decision.stripe_object_id or decision.object_id}.")
        back = _local(str(form.get("back") or "/log"))
        return RedirectResponse(back, status_code=303)

    async def decision_log(request: Request, user: User) -> Response:
        return render(request, "log.html", {"rows": store.latest(200), "check": store.verify()})

    # --- the auto-accept policy and what it does ---------------------------------------------

    async def settings_page(request: Request, user: User) -> Response:
        return render(request, "settings.html", {
            "rules": store.policy_in_force(),
            "changes": list(reversed(store.policy_changes()))[:100],
            "defaults": project_defaults(),
            "currencies": sorted(exponents()),
            "may_change": user.may("admin"),
        })

    async def change_policy(request: Request, user: User) -> Response:
        form = await checked_form(request)
        fields = {name: str(value) for name, value in form.items()}
        remove = fields.get("action") == "remove"
        rule = RuleInput.parse(fields, remove=remove)
        store.change_policy(
            rule.kind, rule.item_type, rule.currency, min_confidence=rule.min_confidence,
            max_amount_minor=rule.max_amount_minor, who=user.username, role=user.role,
        )
        if remove:
            flash(request, f"Removed the rule for {rule.item_type} in {rule.currency.upper()}: the default applies "
                           "from the next recon run.")
        else:
            flash(request, f"{rule.item_type} in {rule.currency.upper()}: auto-accepted at confidence "
                           f"{rule.min_confidence} or more and {money(rule.max_amount_minor, rule.currency)} or less, "
                           "from the next recon run.")
        return RedirectResponse("/settings", status_code=303)

    def autonomy_figures() -> Any:
        rows = store.all()
        return measure(warehouse, store.in_force(), audits_in_force(rows), store.shown())

    async def autonomy_page(request: Request, user: User) -> Response:
        return render(request, "autonomy.html", {"a": autonomy_figures(), "rules": store.policy_in_force()})

    async def audit(request: Request, user: User) -> Response:
        form = await checked_form(request)
        item_id = str(form.get("item_id") or "")
        verdict = str(form.get("verdict") or "")
        picked = next((item for item in autonomy_figures().sample if item.item_id == item_id), None)
        if picked is None:
            flash(request, "That item is no longer in the audit sample (audited already, or a run changed it).")
            return RedirectResponse("/autonomy#audit", status_code=303)
        store.audit(picked.audit, verdict, who=user.username, role=user.role)
        flash(request, f"Audited {picked.stripe_object_id}: {verdict}."
                       + (" Reject or resolve it on its page to correct the books." if verdict == "wrong" else ""))
        return RedirectResponse("/autonomy#audit", status_code=303)

    async def healthz(request: Request) -> Response:
        return Response("ok\n", media_type="text/plain")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    routes = [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", signed_in(queue)),
        Route("/at", signed_in(item_at)),
        Route("/match/{match_id:str}", signed_in(match_page)),
        Route("/match/{match_id:str}/decide", signed_in(decide_match, "decide"), methods=["POST"]),
        Route("/exception/{exception_id:str}", signed_in(exception_page)),
        Route("/exception/{exception_id:str}/resolve", signed_in(resolve_exception, "decide"), methods=["POST"]),
        Route("/bank/{exception_id:str}", signed_in(bank_exception_page)),
        Route("/bank/{exception_id:str}/resolve", signed_in(resolve_bank_exception, "decide"), methods=["POST"]),
        Route("/bulk-accept", signed_in(bulk_accept, "bulk"), methods=["POST"]),
        Route("/undo/{decision_id:str}", signed_in(undo, "decide"), methods=["POST"]),
        Route("/log", signed_in(decision_log)),
        Route("/settings", signed_in(settings_page)),
        Route("/settings/policy", signed_in(change_policy, "admin"), methods=["POST"]),
        Route("/autonomy", signed_in(autonomy_page)),
        Route("/audit", signed_in(audit, "decide"), methods=["POST"]),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=config.secret,
                session_cookie="recon_review",
                max_age=config.session_max_age,
                same_site="strict",
                https_only=config.https_only,
            ),
            Middleware(_SecurityHeaders),
        ],
        lifespan=lifespan,
    )
    app.state.store = store
    return app


class _Forbidden(ReconError):
    """A form without the session's CSRF token, or an action the role may not take."""


class _SecurityHeaders:
    """Pages are not framed, not sniffed, not cached, and run only this site's scripts."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cache-control", b"no-store"),
                    (b"content-security-policy",
                     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                     b"form-action 'self'; frame-ancestors 'none'"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _seen(signer: URLSafeSerializer, form: FormData, **expected: str) -> dict[str, Any]:
    """The item as its page showed it (signed into the form), when the warehouse cannot be read now."""
    try:
        seen = signer.loads(str(form.get("seen") or ""))
    except BadSignature:
        raise _Forbidden("The form was changed after it was shown: reload the page and decide again.") from None
    if not isinstance(seen, dict) or any(seen.get(name) != value for name, value in expected.items()):
        raise _Forbidden("The form belongs to another item: reload the page and decide again.")
    return seen


def _local(path: str) -> str:
    """Only a path of this site (`/match/...`), never another host: no open redirect."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _query_of(form: FormData) -> str:
    """The queue's filters and position that a form carried along (hidden fields): the item now
    at that position is the next one."""
    filters = QueueFilter.parse({name: str(value) for name, value in form.items()}).query(page=1)
    return urlencode({**filters, "i": str(_position(str(form.get("i") or "0")))})


def _carried(request: Request) -> dict[str, Any]:
    """What an item page carries from the queue: its filters (as a query and as hidden fields)
    and the item's position in it."""
    fields = QueueFilter.parse(request.query_params).query(page=1)
    return {"query": urlencode(fields), "hidden": fields, "position": _position(request.query_params.get("i"))}


def _position(text: str | None) -> int:
    return int(text) if text and text.isdigit() and int(text) < 10_000_000 else 0


def _exception_shown(row: dict[str, Any], *, bank: bool = False) -> Shown:
    """What the exception's page showed (for the autonomy page's reversals): the classifier (or
    the rules; the bank's rules for a bank exception), whether it waited for review or was
    auto-accepted, the machine's type and disposition. An exception a person resolved before is
    neither: its status is not recorded."""
    review = row.get("requires_review")
    status = None if row.get("is_resolved") or review is None else (REQUIRES_REVIEW if review else AUTO_ACCEPTED)
    rule = BANK_RULES if bank else (row.get("model_version") or EXCEPTION_RULES)
    return Shown(rule, status, row.get("exception_type"), row.get("disposition"))


def _counterpart(row: dict[str, Any]) -> str:
    return " / ".join(
        str(row[name]) for name in ("erp_document_number", "erp_payment_number", "erp_journal_number") if row.get(name)
    )


def _candidate_key(candidate: dict[str, Any]) -> str:
    return str(candidate.get("erp_payment_number") or candidate.get("erp_journal_number") or "")


def _candidate_choice(row: dict[str, Any], candidate: dict[str, Any]) -> MatchChoice:
    return MatchChoice(
        row["stripe_object_id"], candidate.get("erp_document_number"), candidate.get("erp_payment_number"),
        candidate.get("erp_journal_number"), row["match_type"], None,
    )
