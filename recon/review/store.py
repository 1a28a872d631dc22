"""The review's decisions store: every decision a controller makes, append-only, hash-chained.

A SQLite file beside the warehouse (`<warehouse>.review.sqlite`, WAL, `synchronous=FULL`: a
decision is on disk when the page answers), like the webhook inbox: the warehouse has one writer
at a time (recon/locking.py) and `recon run` may hold it for minutes, so the review page never
writes the warehouse. `recon run` reads the store (its ingest step for decisions) and loads the
decisions in force into `raw_decisions` beside the CSV decisions (docs/contract.md section 3b).

Nothing is ever updated or deleted (triggers refuse it): an undo is a new decision naming the one
it undoes. Each row's `row_hash` is the SHA-256 of its fields and the previous row's hash, so an
edited, removed or reordered row breaks the chain from that row on (`verify`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import NamedTuple

from core.errors import UserError
from core.settings import Settings
from core.vocabulary import (
    BANK_DISPOSITION_OF_TYPE,
    BANK_EXCEPTION_TYPES,
    DISPOSITION_OF_TYPE,
    DISPOSITIONS,
    EXCEPTION_TYPES,
)
from recon.durable import open_sqlite

GENESIS = "0" * 64
MATCH_ACTIONS = ("confirmed", "rejected")
UNDONE = "undone"
RESOLVED = "resolved"

SCHEMA = """
create table if not exists decisions (
    seq integer primary key,
    decision_id text not null unique,
    kind text not null check (kind in ('match', 'exception', 'audit')),
    action text not null check (action in ('confirmed', 'rejected', 'resolved', 'undone')),
    stripe_object_id text,
    erp_document_number text,
    erp_payment_number text,
    erp_journal_number text,
    match_id text,
    match_type text,
    exception_id text,
    object_id text,
    exception_type text,
    disposition text,
    note text,
    undoes text,
    batch_id text,
    decided_by text not null,
    decided_role text not null,
    decided_at text not null,
    prev_hash text not null,
    row_hash text not null unique
);
create index if not exists decisions_match on decisions (stripe_object_id);
create index if not exists decisions_exception on decisions (exception_id);
create trigger if not exists decisions_never_updated before update on decisions
begin
    select raise(abort, 'the decision log is append-only: record a new decision (an undo) instead');
end;
create trigger if not exists decisions_never_deleted before delete on decisions
begin
    select raise(abort, 'the decision log is append-only: record a new decision (an undo) instead');
end;
create table if not exists decisions_shown (
    decision_id text primary key references decisions (decision_id),
    rule_name text,
    status text,
    exception_type text,
    disposition text
);
create trigger if not exists decisions_shown_never_updated before update on decisions_shown
begin
    select raise(abort, 'what a decision was made on is append-only');
end;
create trigger if not exists decisions_shown_never_deleted before delete on decisions_shown
begin
    select raise(abort, 'what a decision was made on is append-only');
end;
create table if not exists policy_changes (
    seq integer primary key,
    change_id text not null unique,
    kind text not null check (kind in ('match', 'exception')),
    item_type text not null,
    currency text not null,
    action text not null check (action in ('set', 'removed')),
    min_confidence text,
    max_amount_minor integer,
    changed_by text not null,
    changed_role text not null,
    changed_at text not null,
    prev_hash text not null,
    row_hash text not null unique
);
create trigger if not exists policy_changes_never_updated before update on policy_changes
begin
    select raise(abort, 'the policy log is append-only: record a new change instead');
end;
create trigger if not exists policy_changes_never_deleted before delete on policy_changes
begin
    select raise(abort, 'the policy log is append-only: record a new change instead');
end;
"""

def default_store_path(settings: Settings) -> Path:
    """The store beside the warehouse file: `<warehouse>.review.sqlite`."""
    return settings.warehouse.with_name(settings.warehouse.name + ".review.sqlite")


def utc_now() -> str:
    """Now, ISO 8601 in UTC to the millisecond (`2026-01-31T10:15:00.123Z`)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Decision:
    """One row of the log. `kind` `match`: a pair confirmed or rejected; `exception`: resolved;
    `undone`: the decision `undoes` no longer counts."""

    seq: int
    decision_id: str
    kind: str
    action: str
    stripe_object_id: str | None
    erp_document_number: str | None
    erp_payment_number: str | None
    erp_journal_number: str | None
    match_id: str | None
    match_type: str | None
    exception_id: str | None
    object_id: str | None
    exception_type: str | None
    disposition: str | None
    note: str | None
    undoes: str | None
    batch_id: str | None
    decided_by: str
    decided_role: str
    decided_at: str
    prev_hash: str
    row_hash: str

    @property
    def pair_key(self) -> tuple[str, str]:
        """A match decision's identity: the Stripe object and its ERP item (the payment, else the
        journal, else the document). The latest decision about one pair is the one in force."""
        item = self.erp_payment_number or self.erp_journal_number or self.erp_document_number or ""
        return (self.stripe_object_id or "", item)

    @property
    def counterpart(self) -> str:
        return " / ".join(
            part for part in (self.erp_document_number, self.erp_payment_number, self.erp_journal_number) if part
        )


COLUMNS = tuple(field.name for field in fields(Decision))


class Shown(NamedTuple):
    """What the page showed of an item when a person decided it (table decisions_shown, beside
    the hashed log): the rule that proposed a pair (or the classifier's version for an
    exception) and its status (`auto_matched`, `suggested`; `auto_accepted`, `requires_review`);
    for an exception also the type and disposition the machine gave it."""

    rule_name: str | None
    status: str | None
    exception_type: str | None = None
    disposition: str | None = None


NOTHING_SHOWN = Shown(None, None)
SHOWN_COLUMNS = Shown._fields


def chain_hash(values: dict[str, object], columns: Sequence[str]) -> str:
    """SHA-256 of a chained row's fields (all but seq and row_hash, prev_hash included), canonical
    JSON: the decisions' and the policy log's rows alike."""
    hashed = {name: values.get(name) for name in columns if name not in ("seq", "row_hash")}
    canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def row_hash(values: dict[str, object]) -> str:
    """A decision's hash."""
    return chain_hash(values, COLUMNS)


@dataclass(frozen=True)
class MatchChoice:
    """A pair to confirm or reject, as the matches mart (or a candidate) names it."""

    stripe_object_id: str
    erp_document_number: str | None
    erp_payment_number: str | None
    erp_journal_number: str | None
    match_type: str | None = None
    match_id: str | None = None
    # what the page showed of the pair: the rule that proposed it and its status (auto_matched,
    # suggested), kept beside the decision (decisions_shown) for the autonomy page's figures
    rule_name: str | None = None
    status: str | None = None

    def decision_fields(self) -> dict[str, object]:
        return {name: value for name, value in asdict(self).items() if name not in SHOWN_FIELDS}

    def shown(self) -> Shown:
        return Shown(self.rule_name, self.status)


SHOWN_FIELDS = ("rule_name", "status")
AUDIT_ACTIONS = {"right": "confirmed", "wrong": "rejected"}


@dataclass(frozen=True)
class PolicyChange:
    """One change of the auto-accept policy: a rule for a match type or an exception type in one
    currency set (auto-accept at or above `min_confidence` and at or below `max_amount_minor`)
    or removed (the project's default applies again)."""

    seq: int
    change_id: str
    kind: str
    item_type: str
    currency: str
    action: str
    min_confidence: str | None  # a decimal as text, exactly as entered: '0.95'
    max_amount_minor: int | None
    changed_by: str
    changed_role: str
    changed_at: str
    prev_hash: str
    row_hash: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.item_type, self.currency)


POLICY_COLUMNS = tuple(field.name for field in fields(PolicyChange))


def policy_row_hash(values: dict[str, object]) -> str:
    """A policy change's hash."""
    return chain_hash(values, POLICY_COLUMNS)


@dataclass(frozen=True)
class AuditItem:
    """An auto-accepted item as the audit sample showed it: a pair (`match_id` and its numbers) or
    an exception (`exception_id`, `object_id`, `exception_type`)."""

    stripe_object_id: str | None = None
    erp_document_number: str | None = None
    erp_payment_number: str | None = None
    erp_journal_number: str | None = None
    match_id: str | None = None
    match_type: str | None = None
    exception_id: str | None = None
    object_id: str | None = None
    exception_type: str | None = None
    rule_name: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Resolution:
    """An exception resolved: its type and disposition as the controller sees them, and a note."""

    exception_id: str
    object_id: str
    exception_type: str
    disposition: str
    note: str


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    broken_at: int | None  # the seq of the first row whose hash does not follow, or None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


@dataclass(frozen=True)
class ChainHead:
    """Where a chain (the decisions', or the policy log's) ended when it was read: its row count
    and its last row's hash (GENESIS when empty). Each load records the heads it verified in the
    warehouse; a later chain that no longer holds that row at that place was cut short (or
    rewritten) since."""

    rows: int
    last_hash: str

    @classmethod
    def of(cls, rows: Sequence[Decision] | Sequence[PolicyChange]) -> ChainHead:
        return cls(len(rows), rows[-1].row_hash if rows else GENESIS)

    def held_by(self, rows: Sequence[Decision] | Sequence[PolicyChange]) -> bool:
        """The chain `rows` (in seq order) still holds this head: as many rows at least, the
        head's row at its place."""
        if self.rows == 0:
            return True
        return len(rows) >= self.rows and rows[self.rows - 1].row_hash == self.last_hash


class DecisionStore:
    """The store's reads and appends; one connection, used under a lock (Starlette runs
    synchronous work on a thread pool)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = open_sqlite(path, SCHEMA)
        self._lock = threading.Lock()
        _add_shown_columns(self._con)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            # `begin immediate`: the write lock first, so two writers never chain off one head.
            self._con.execute("begin immediate")
            try:
                yield self._con
            except BaseException:
                self._con.execute("rollback")
                raise
            self._con.execute("commit")

    def _append(
        self,
        rows: Sequence[dict[str, object]],
        who: str,
        role: str,
        shown: Sequence[Shown] = (),
    ) -> list[Decision]:
        decided_at = utc_now()
        new_rows = [
            {
                **{name: None for name in COLUMNS},
                **row,
                "decision_id": uuid.uuid4().hex,
                "decided_by": who,
                "decided_role": role,
                "decided_at": decided_at,
            }
            for row in rows
        ]
        with self._transaction() as con:
            written = [Decision(**values) for values in append_chained(con, "decisions", COLUMNS, new_rows)]  # type: ignore[arg-type]
            for decision, seen in zip(written, shown, strict=False):
                if any(seen):
                    con.execute(
                        f"insert into decisions_shown (decision_id, {', '.join(SHOWN_COLUMNS)}) values (?, ?, ?, ?, ?)",
                        (decision.decision_id, *seen),
                    )
        return written

    def decide_matches(
        self, choices: Iterable[MatchChoice], action: str, *, who: str, role: str, batch_id: str | None = None
    ) -> list[Decision]:
        """Confirm or reject pairs, in one transaction (a bulk accept is one batch)."""
        if action not in MATCH_ACTIONS:
            raise UserError(f"A match decision is one of {', '.join(MATCH_ACTIONS)}, not {action!r}.")
        rows: list[dict[str, object]] = []
        for choice in choices:
            if not choice.stripe_object_id or not (
                choice.erp_document_number or choice.erp_payment_number or choice.erp_journal_number
            ):
                raise UserError("A pair names its Stripe object and an ERP document, payment or journal.")
            rows.append({"kind": "match", "action": action, "batch_id": batch_id, **choice.decision_fields()})
        return self._append(rows, who, role, [choice.shown() for choice in choices]) if rows else []

    def audit(self, item: AuditItem, verdict: str, *, who: str, role: str) -> Decision:
        """A controller's check of one auto-accepted item of the audit sample: right or wrong.
        It measures the policy; it changes no books (a wrong pair is rejected on its page)."""
        if verdict not in AUDIT_ACTIONS:
            raise UserError(f"An audit finds an item right or wrong, not {verdict!r}.")
        row: dict[str, object] = {"kind": "audit", "action": AUDIT_ACTIONS[verdict], **asdict(item)}
        for name in ("rule_name", "status"):
            row.pop(name)
        return self._append([row], who, role, [Shown(item.rule_name, item.status)])[0]

    def resolve(self, resolution: Resolution, *, who: str, role: str, shown: Shown = NOTHING_SHOWN) -> Decision:
        """Resolve an exception with a type and disposition of the vocabulary and a note;
        `shown`: the exception as its page showed it (its classifier, status, type, disposition)."""
        if resolution.exception_type not in (*EXCEPTION_TYPES, *BANK_EXCEPTION_TYPES):
            raise UserError(f"Unknown exception type {resolution.exception_type!r}.")
        if resolution.disposition not in DISPOSITIONS:
            raise UserError(f"A disposition is one of {', '.join(DISPOSITIONS)}, not {resolution.disposition!r}.")
        row = {"kind": "exception", "action": RESOLVED, **asdict(resolution)}
        return self._append([row], who, role, [shown])[0]

    def undo(self, decision_id: str, *, who: str, role: str) -> Decision:
        """A new decision saying that `decision_id` no longer counts."""
        target = self.get(decision_id)
        if target is None:
            raise UserError(f"No decision {decision_id}.")
        if target.action == UNDONE:
            raise UserError("An undo is not undone: decide the item again instead.")
        if decision_id in self.undone_ids():
            raise UserError("That decision was undone already.")
        keep = {
            name: getattr(target, name)
            for name in (
                "kind", "stripe_object_id", "erp_document_number", "erp_payment_number", "erp_journal_number",
                "match_id", "match_type", "exception_id", "object_id",
            )
        }
        return self._append([{**keep, "action": UNDONE, "undoes": decision_id}], who, role)[0]

    # --- reads ---------------------------------------------------------------------------

    def _rows(self, where: str = "", params: Sequence[object] = ()) -> list[Decision]:
        with self._lock:
            cursor = self._con.execute(f"select {', '.join(COLUMNS)} from decisions {where} order by seq", params)
            return [Decision(*row) for row in cursor.fetchall()]

    def all(self) -> list[Decision]:
        return self._rows()

    def get(self, decision_id: str) -> Decision | None:
        rows = self._rows("where decision_id = ?", (decision_id,))
        return rows[0] if rows else None

    def latest(self, limit: int) -> list[Decision]:
        with self._lock:
            cursor = self._con.execute(
                f"select {', '.join(COLUMNS)} from decisions order by seq desc limit ?", (limit,)
            )
            return [Decision(*row) for row in cursor.fetchall()]

    def for_stripe_object(self, stripe_object_id: str) -> list[Decision]:
        return self._rows("where stripe_object_id = ?", (stripe_object_id,))

    def for_exception(self, exception_id: str) -> list[Decision]:
        return self._rows("where exception_id = ?", (exception_id,))

    def undone_ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._con.execute("select undoes from decisions where action = 'undone'")}

    def in_force(self) -> InForce:
        """The decisions that count: per pair (and per exception) the latest one not undone."""
        return in_force(self.all())

    def verify(self) -> ChainCheck:
        """Walk the chain: every row's hash follows from its fields and the row before."""
        return verify_chain(self.all())

    def shown(self) -> dict[str, Shown]:
        """decision_id -> the item as its page showed it when the decision was made."""
        with self._lock:
            cursor = self._con.execute(f"select decision_id, {', '.join(SHOWN_COLUMNS)} from decisions_shown")
            return {row[0]: Shown(*row[1:]) for row in cursor.fetchall()}

    # --- the auto-accept policy --------------------------------------------------------------

    def change_policy(
        self,
        kind: str,
        item_type: str,
        currency: str,
        *,
        min_confidence: str | None,
        max_amount_minor: int | None,
        who: str,
        role: str,
    ) -> PolicyChange:
        """Set a rule (both values given) or remove it (both None). The caller validates the values
        (recon.review.policy); the store checks only that a set rule has both."""
        action = "removed" if min_confidence is None and max_amount_minor is None else "set"
        if action == "set" and (min_confidence is None or max_amount_minor is None):
            raise UserError("A policy rule has a minimum confidence and a maximum amount.")
        values: dict[str, object] = {
            "change_id": uuid.uuid4().hex, "kind": kind, "item_type": item_type, "currency": currency,
            "action": action, "min_confidence": min_confidence, "max_amount_minor": max_amount_minor,
            "changed_by": who, "changed_role": role, "changed_at": utc_now(),
        }
        with self._transaction() as con:
            (written,) = append_chained(con, "policy_changes", POLICY_COLUMNS, [values])
        return PolicyChange(**written)  # type: ignore[arg-type]

    def policy_changes(self) -> list[PolicyChange]:
        with self._lock:
            cursor = self._con.execute(f"select {', '.join(POLICY_COLUMNS)} from policy_changes order by seq")
            return [PolicyChange(*row) for row in cursor.fetchall()]

    def verify_policy(self) -> ChainCheck:
        """Walk the policy log's chain, as `verify` walks the decisions'."""
        return walk_chain(self.policy_changes(), POLICY_COLUMNS, "policy change")

    def policy_in_force(self, loaded_head: ChainHead | None = None) -> list[PolicyChange]:
        """Per kind, type and currency the latest change, unless it removed the rule. A broken
        chain stops it (UserError): a policy nobody can vouch for is not applied; so does a log
        that no longer holds `loaded_head`, the head a load recorded in the warehouse (its last
        changes cut off since)."""
        return policy_rules(self.checked_policy_changes(loaded_head))

    def checked_policy_changes(self, loaded_head: ChainHead | None = None) -> list[PolicyChange]:
        """The policy log, its chain verified and found to hold `loaded_head` (else UserError)."""
        changes = self.policy_changes()
        check = walk_chain(changes, POLICY_COLUMNS, "policy change")
        if not check.ok:
            raise UserError(
                f"The review's policy log {self.path} is not intact: {check.reason}. Restore the file from a backup."
            )
        if loaded_head is not None and not loaded_head.held_by(changes):
            raise UserError(
                f"The review's policy log {self.path} lost changes: the warehouse's last load verified "
                f"{loaded_head.rows} policy change(s) ending with hash {loaded_head.last_hash[:12]}..., and the log "
                f"now holds {len(changes)} that do not. The policy was not applied; restore the file from a backup "
                "that holds them (changes are never removed: a removal is a new change)."
            )
        return changes


def policy_rules(changes: Sequence[PolicyChange]) -> list[PolicyChange]:
    """The rules in force of a (verified) policy log: per kind, type and currency the latest
    change, unless it removed the rule."""
    latest: dict[tuple[str, str, str], PolicyChange] = {}
    for change in changes:
        latest[change.key] = change
    return sorted((c for c in latest.values() if c.action == "set"), key=lambda c: c.key)


def _add_shown_columns(con: sqlite3.Connection) -> None:
    """A store made before exceptions' pages were recorded gains their columns (an ALTER that
    adds nullable columns: no row changes, the triggers stay)."""
    have = {row[1] for row in con.execute("pragma table_info(decisions_shown)")}
    for column in SHOWN_COLUMNS:
        if column not in have:
            try:
                con.execute(f"alter table decisions_shown add column {column} text")
            except sqlite3.OperationalError as error:  # another process added it a moment ago
                if "duplicate column" not in str(error):
                    raise


@dataclass(frozen=True)
class InForce:
    matches: dict[tuple[str, str], Decision]  # pair_key -> the decision in force
    resolutions: dict[str, Decision]  # exception_id -> the resolution in force

    def decided_match_ids(self) -> set[str]:
        return {d.match_id for d in self.matches.values() if d.match_id}

    def decided_pairs(self) -> set[tuple[str, str]]:
        return set(self.matches)


def in_force(rows: Sequence[Decision]) -> InForce:
    undone = {row.undoes for row in rows if row.action == UNDONE}
    matches: dict[tuple[str, str], Decision] = {}
    resolutions: dict[str, Decision] = {}
    for row in rows:  # in seq order: a later decision about the same pair replaces an earlier one
        if row.action == UNDONE or row.decision_id in undone:
            continue
        if row.kind == "match":
            matches[row.pair_key] = row
        elif row.kind == "exception" and row.exception_id:
            resolutions[row.exception_id] = row
    return InForce(matches, resolutions)


def verify_chain(rows: Sequence[Decision]) -> ChainCheck:
    return walk_chain(rows, COLUMNS, "decision")


def append_chained(
    con: sqlite3.Connection, table: str, columns: Sequence[str], rows: Sequence[dict[str, object]]
) -> list[dict[str, object]]:
    """Insert `rows` after the table's last row, each chained to the one before (prev_hash,
    row_hash); returns them as written, with their seq. Call inside a `begin immediate`
    transaction, so two writers never chain off one head."""
    head = con.execute(f"select row_hash from {table} order by seq desc limit 1").fetchone()
    previous = head[0] if head else GENESIS
    names = [name for name in columns if name != "seq"]
    insert = f"insert into {table} ({', '.join(names)}) values ({', '.join('?' for _ in names)})"
    written = []
    for row in rows:
        values = {**row, "prev_hash": previous}
        values["row_hash"] = previous = chain_hash(values, columns)
        values["seq"] = con.execute(insert, [values.get(name) for name in names]).lastrowid
        written.append(values)
    return written


def walk_chain(rows: Sequence[Decision] | Sequence[PolicyChange], columns: Sequence[str], noun: str) -> ChainCheck:
    """Every row's hash follows from its fields and the row before."""
    previous = GENESIS
    for row in rows:
        if row.prev_hash != previous:
            return ChainCheck(len(rows), row.seq, f"{noun} {row.seq} does not follow the one before it")
        if chain_hash(asdict(row), columns) != row.row_hash:
            return ChainCheck(len(rows), row.seq, f"{noun} {row.seq} was changed after it was recorded")
        previous = row.row_hash
    return ChainCheck(len(rows), None)


def match_decision_rows(decisions: InForce) -> list[dict[str, object]]:
    """The match decisions in force in the contract's shape (docs/contract.md section 3b).

    A confirmation names the pair as the mart or the candidate named it. A rejection names the
    Stripe object and its ERP payment (or journal) only: whichever document a later run pairs
    them through, the pair stays out (int_matches_assigned's anti-join fits the named numbers)."""
    rows: list[dict[str, object]] = []
    for decision in decisions.matches.values():
        document = decision.erp_document_number
        if decision.action == "rejected" and (decision.erp_payment_number or decision.erp_journal_number):
            document = None
        numbers = (decision.stripe_object_id or "", document or "", decision.erp_payment_number or "",
                   decision.erp_journal_number or "")
        rows.append({
            "match_decision_key": "|".join(numbers),
            "stripe_object_id": decision.stripe_object_id,
            "erp_document_number": document,
            "erp_payment_number": decision.erp_payment_number,
            "erp_journal_number": decision.erp_journal_number,
            "decision": decision.action,
            "decided_at": _timestamp(decision.decided_at),
            "decided_by": decision.decided_by,
            "decision_id": decision.decision_id,
            "row_hash": decision.row_hash,
        })
    return rows


def resolution_rows(decisions: InForce) -> list[dict[str, object]]:
    """The resolutions in force in the contract's shape: one per object and type (the latest)."""
    latest: dict[tuple[str, str], Decision] = {}
    for decision in sorted(decisions.resolutions.values(), key=lambda d: d.seq):
        latest[(decision.object_id or "", decision.exception_type or "")] = decision
    rows: list[dict[str, object]] = [
        {
            "object_id": d.object_id,
            "exception_type": d.exception_type,
            "disposition": d.disposition
            or {**DISPOSITION_OF_TYPE, **BANK_DISPOSITION_OF_TYPE}.get(d.exception_type or ""),
            "resolved_at": _timestamp(d.decided_at),
            "resolved_by": d.decided_by,
            "note": d.note,
            "exception_id": d.exception_id,
            "decision_id": d.decision_id,
            "row_hash": d.row_hash,
        }
        for d in latest.values()
    ]
    return rows


def _timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def store_head(path: Path) -> ChainHead | None:
    """The decisions' chain head as the file holds it now, read cheaply (no chain walk, the file
    opened read-only): what `recon serve`'s micro-batcher polls to notice new decisions. None
    when there is no store."""
    if not path.exists():
        return None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        found = con.execute(
            "select count(*), (select row_hash from decisions order by seq desc limit 1) from decisions"
        ).fetchone()
    except sqlite3.OperationalError:  # a store created a moment ago, its tables not yet there
        return None
    finally:
        con.close()
    return ChainHead(int(found[0]), found[1] or GENESIS)


@dataclass(frozen=True)
class ReviewLoad:
    """What a load takes from the store: the rows in the contract's shape, the chain check, and
    the head it verified (recorded in the warehouse beside the rows)."""

    matches: list[dict[str, object]]
    resolutions: list[dict[str, object]]
    check: ChainCheck
    head: ChainHead
    verified_against: ChainHead | None = None  # the last load's head, found held by the chain
    policy_head: ChainHead | None = None  # the policy log's head, verified (and found to hold the last load's)


def read_for_load(
    path: Path, loaded_head: ChainHead | None = None, loaded_policy_head: ChainHead | None = None
) -> ReviewLoad:
    """What `recon run` loads: the match decisions and resolutions in force, after the chain is
    verified. A broken chain stops the load: UserError naming the first row that does not follow.
    `loaded_head`: the head the warehouse's last load verified; a chain that no longer holds it
    lost its last rows (or was rewritten) since, and stops the load as well. The policy log is
    checked the same way against `loaded_policy_head`, and its head is returned to be recorded."""
    with DecisionStore(path) as store:
        rows = store.all()
        policy_head = ChainHead.of(store.checked_policy_changes(loaded_policy_head))
    check = verify_chain(rows)
    if not check.ok:
        raise UserError(
            f"The review's decision log {path} is not intact: {check.reason}. Nothing was loaded from it; "
            "restore the file from a backup (decisions are never edited in place: an undo is a new decision)."
        )
    if loaded_head is not None and not loaded_head.held_by(rows):
        raise UserError(
            f"The review's decision log {path} lost decisions: the warehouse's last load verified "
            f"{loaded_head.rows} decision(s) ending with hash {loaded_head.last_hash[:12]}..., and the log now "
            f"holds {len(rows)} that do not. Nothing was loaded from it; restore the file from a backup that "
            "holds them (decisions are never removed: an undo is a new decision)."
        )
    decisions = in_force(rows)
    return ReviewLoad(
        match_decision_rows(decisions), resolution_rows(decisions), check, ChainHead.of(rows), loaded_head,
        policy_head,
    )
