"""What the review page reads from the warehouse: the queue, an item's evidence, candidates.

Every query is fixed text with bind parameters: what a person types never becomes SQL. Filters
are parsed first (`QueueFilter.parse`) against allow-lists (the vocabulary, the currency seed,
the patterns of a period and an amount) and whatever does not fit is dropped with a message.
Schema names come from `core.warehouse.schema` (RECON_SCHEMA_PREFIX), never from a request.

Both targets: every statement is one text that DuckDB and PostgreSQL both run (no `anti join`,
`group by all`, `datediff` or `year()`; lists bound as `cast($x as varchar[])`), written with
DuckDB's `$name` parameters, which `Reader` turns into psycopg2's `%(name)s` on PostgreSQL: the
one place where the targets differ.

Money stays integer minor units with its currency. "Most money at stake first" ranks items of
different currencies by their amount in major units converted at Stripe's average rate of the
currency (int_fx_rates_daily), an estimate used only to order the queue, never shown or stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb
import psycopg2
import psycopg2.errors

from core.currencies import exponents
from core.errors import MissingRelationError, SourceUnavailableError, UserError
from core.settings import Settings
from core.vocabulary import BANK_EXCEPTION_TYPES, EXCEPTION_TYPES
from core.warehouse import connect_duckdb, postgres_credentials, schema
from recon.locking import reader_lock

KINDS = ("match", "exception", "bank")
BANK_RULES = "bank_rules"  # the "rule" of a bank exception: the bank models' rules
MATCH_TYPES = ("charge_payment", "refund_payment", "payout_deposit", "dispute_chargeback")
PAGE_SIZE = 50
PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
RULE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
AMOUNT = re.compile(r"^\d{1,15}(\.\d{1,3})?$")


@dataclass(frozen=True)
class QueueFilter:
    """The queue's filters, each already checked against its allow-list (None: not filtered)."""

    kind: str | None = None
    item_type: str | None = None
    currency: str | None = None
    period: int | None = None  # YYYYMM
    amount_min: Decimal | None = None  # major units, compared per currency exactly
    amount_max: Decimal | None = None
    rule: str | None = None
    page: int = 1
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> QueueFilter:
        problems: list[str] = []

        def pick(name: str, allowed: Sequence[str]) -> str | None:
            value = (params.get(name) or "").strip().lower()
            if not value:
                return None
            if value in allowed:
                return value
            problems.append(f"{name} {value[:40]!r} is not one of the known values: ignored")
            return None

        def amount(name: str) -> Decimal | None:
            value = (params.get(name) or "").strip()
            if not value:
                return None
            if AMOUNT.match(value):
                try:
                    return Decimal(value)
                except InvalidOperation:
                    pass
            problems.append(f"{name} {value[:40]!r} is not an amount like 1250 or 1250.50: ignored")
            return None

        period_text = (params.get("period") or "").strip()
        period = None
        if period_text:
            match = PERIOD.match(period_text)
            if match and 1 <= int(match.group(2)) <= 12:
                period = int(match.group(1)) * 100 + int(match.group(2))
            else:
                problems.append(f"period {period_text[:40]!r} is not a month like 2025-01: ignored")
        rule_text = (params.get("rule") or "").strip()
        rule = rule_text if RULE.match(rule_text) else None
        if rule_text and rule is None:
            problems.append(f"rule {rule_text[:40]!r} is not a rule name: ignored")
        page_text = (params.get("page") or "1").strip()
        page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 1_000_000 else 1
        return cls(
            kind=pick("kind", KINDS),
            item_type=pick("type", (*MATCH_TYPES, *EXCEPTION_TYPES, *BANK_EXCEPTION_TYPES)),
            currency=pick("currency", tuple(exponents())),
            period=period,
            amount_min=amount("min"),
            amount_max=amount("max"),
            rule=rule,
            page=page,
            problems=tuple(problems),
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """As query-string parameters (for links and the form), with `changes` applied."""
        current = replace(self, **changes)
        values = {
            "kind": current.kind,
            "type": current.item_type,
            "currency": current.currency,
            "period": f"{current.period // 100}-{current.period % 100:02d}" if current.period else None,
            "min": str(current.amount_min) if current.amount_min is not None else None,
            "max": str(current.amount_max) if current.amount_max is not None else None,
            "rule": current.rule,
            "page": str(current.page) if current.page > 1 else None,
        }
        return {name: value for name, value in values.items() if value}

    def binds(self) -> dict[str, Any]:
        """The filters as the queue query's parameters: amounts in thousandths of a major unit
        (every currency of the seed has at most three decimals), compared with the item's amount
        scaled the same way, exactly."""

        def thousandths(value: Decimal | None) -> int | None:
            return int(value * 1000) if value is not None else None

        return {
            "kind": self.kind,
            "item_type": self.item_type,
            "currency": self.currency,
            "period": self.period,
            "min_thousandths": thousandths(self.amount_min),
            "max_thousandths": thousandths(self.amount_max),
            "rule": self.rule,
        }


@dataclass(frozen=True)
class QueueItem:
    kind: str
    item_id: str
    item_type: str
    proposed_by: str
    currency: str
    amount_minor: int
    difference_minor: int | None
    difference_currency: str | None
    confidence: Decimal | None
    stripe_object_id: str | None  # the Stripe id of the row, shown under "Stripe"
    counterpart: str | None  # the ERP number of the row, shown under "ERP"
    period: int | None
    object_id: str  # what a decision is about: the match's Stripe object, the exception's object


@dataclass(frozen=True)
class Total:
    kind: str
    currency: str
    items: int
    amount_minor: int


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    matching: int  # items that fit the filters
    totals: list[Total]  # per kind and currency, of what fits the filters
    page: int
    pages: int
    rules: list[str]
    periods: list[int]
    currencies: list[str]
    loaded_decisions: frozenset[str]  # ids of the review's decisions the last run loaded


def _queue_sql() -> str:
    marts, intermediate, seeds, staging = schema("marts"), schema("intermediate"), schema("seeds"), schema("staging")
    return f"""
with settlement as (
    select settlement_currency
    from {intermediate}.int_fx_rates_daily
    group by settlement_currency
    order by count(*) desc
    limit 1
),
rates as (
    select currency, avg(exchange_rate) as rate
    from {intermediate}.int_fx_rates_daily
    where settlement_currency in (select settlement_currency from settlement)
    group by currency
),
item_dates as (
    select stripe_object_id, item_date from {intermediate}.int_stripe_items_prepared
    union all
    select payout_id, arrival_date from {staging}.stg_stripe__payouts
),
resolved as (
    select object_id, exception_type from {staging}.stg_decisions__exception_resolutions
),
items as (
    select
        'match' as kind,
        matches.match_id as item_id,
        matches.match_type as item_type,
        matches.rule_name as proposed_by,
        matches.currency,
        matches.stripe_amount_minor as amount_minor,
        matches.difference_minor,
        matches.difference_currency,
        matches.confidence,
        matches.stripe_object_id,
        coalesce(matches.erp_payment_number, matches.erp_journal_number, matches.erp_document_number) as counterpart,
        cast(extract(year from item_dates.item_date) * 100 + extract(month from item_dates.item_date) as integer)
            as period,
        matches.stripe_object_id || '|'
            || coalesce(matches.erp_payment_number, matches.erp_journal_number, matches.erp_document_number, '')
            as pair_key,
        matches.stripe_object_id as object_id
    from {marts}.fct_reconciliation_matches as matches
    left join item_dates on matches.stripe_object_id = item_dates.stripe_object_id
    where matches.status = 'suggested'
    union all
    select
        'exception',
        exceptions.exception_id,
        exceptions.exception_type,
        coalesce(exceptions.model_version, 'exception_rules'),
        exceptions.currency,
        exceptions.amount_minor,
        exceptions.difference_minor,
        exceptions.difference_currency,
        exceptions.confidence,
        -- each id under its side's column: an ERP-side exception's object is an ERP number
        case when exceptions.side = 'stripe' then exceptions.object_id end,
        case when exceptions.side = 'erp' then exceptions.object_id else exceptions.erp_reference end,
        exceptions.period,
        null,
        exceptions.object_id
    from {marts}.fct_reconciliation_exceptions as exceptions
    where exceptions.requires_review
        and not exists (
            select 1 from resolved
            where exceptions.object_id = resolved.object_id and exceptions.exception_type = resolved.exception_type
        )
    union all
    select
        'bank',
        bank.exception_id,
        bank.exception_type,
        '{BANK_RULES}',
        bank.currency,
        bank.amount_minor,
        bank.difference_minor,
        bank.currency,
        null,
        -- each id under its side's column: a deposit no statement carries is the ERP's journal
        -- (its reference the payout it deposits); a payout's is Stripe's; a statement's or a
        -- line's own id is the bank's, in neither (a line's reference is its ERP journal)
        case bank.side when 'stripe' then bank.object_id when 'erp' then bank.reference end,
        case bank.side when 'erp' then bank.object_id when 'stripe' then bank.reference
            else case when bank.object_type = 'statement_line' then bank.reference end end,
        cast(extract(year from bank.event_date) * 100 + extract(month from bank.event_date) as integer),
        null,
        bank.object_id
    from {marts}.fct_bank_exceptions as bank
    where bank.requires_review
),
undecided as (
    select items.*
    from items
    where (items.pair_key is null or items.pair_key not in (select unnest(cast($decided_pairs as varchar[]))))
        and (items.kind = 'match'
            or items.item_id not in (select unnest(cast($decided_exceptions as varchar[]))))
),
filtered as materialized (
    select
        undecided.*,
        abs(undecided.amount_minor) * coalesce(rates.rate, 1) / pow(10, coalesce(currencies.exponent, 2)) as rank_weight
    from undecided
    left join rates on undecided.currency = rates.currency
    left join {seeds}.currencies as currencies on undecided.currency = currencies.currency
    where ($kind is null or undecided.kind = $kind)
        and ($item_type is null or undecided.item_type = $item_type)
        and ($currency is null or undecided.currency = $currency)
        and ($period is null or undecided.period = $period)
        and ($rule is null or undecided.proposed_by = $rule)
        and ($min_thousandths is null
            or abs(undecided.amount_minor) * cast(pow(10, 3 - coalesce(currencies.exponent, 2)) as bigint)
                >= $min_thousandths)
        and ($max_thousandths is null
            or abs(undecided.amount_minor) * cast(pow(10, 3 - coalesce(currencies.exponent, 2)) as bigint)
                <= $max_thousandths)
)
"""


QUEUE_COLUMNS = (
    "kind, item_id, item_type, proposed_by, currency, amount_minor, difference_minor, difference_currency, "
    "confidence, stripe_object_id, counterpart, period, object_id"
)


PARAMETER = re.compile(r"\$([a-z_][a-z0-9_]*)")
MISSING_RELATION = (duckdb.CatalogException, psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName)


class Reader:
    """One read-only connection to the warehouse of either target, for the statements of this
    module: written once with DuckDB's `$name` parameters, given to psycopg2 as `%(name)s` (a
    literal `%` doubled) on PostgreSQL. A relation that is not there raises MissingRelationError."""

    def __init__(self, raw: Any, target: str) -> None:
        self.raw = raw
        self.target = target

    def _sql(self, sql: str) -> str:
        return PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%")) if self.target == "postgres" else sql

    def _run(self, sql: str, binds: Mapping[str, Any] | None) -> tuple[list[str], list[tuple[Any, ...]]]:
        if self.target == "postgres":
            with self.raw.cursor() as cursor:
                try:
                    cursor.execute(self._sql(sql), dict(binds or {}))
                except MISSING_RELATION as error:
                    raise MissingRelationError(str(error).strip()) from None
                return [d[0] for d in cursor.description], [tuple(row) for row in cursor.fetchall()]
        try:
            result = self.raw.execute(sql, dict(binds)) if binds else self.raw.execute(sql)
        except MISSING_RELATION as error:
            raise MissingRelationError(str(error).strip()) from None
        return [d[0] for d in result.description], result.fetchall()

    def rows(self, sql: str, binds: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._run(sql, binds)[1]

    def dicts(self, sql: str, binds: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        names, rows = self._run(sql, binds)
        return [dict(zip(names, row, strict=True)) for row in rows]


class Warehouse:
    """Read-only access to the warehouse for one request at a time. DuckDB: the file is opened
    for the read and closed after it, under the warehouse's reader lock (recon.locking), so that
    a `recon run` or a micro-batch never finds it held and a read never meets a write half done.
    PostgreSQL: a read-only connection in autocommit (each statement sees the tables as a build
    last committed them; a failed statement does not poison the next), closed after the read."""

    def __init__(self, settings: Settings, *, lock_timeout: float = 3.0) -> None:
        if settings.target not in ("duckdb", "postgres"):
            raise UserError(f"recon review reads a DuckDB or PostgreSQL warehouse, not {settings.target!r}.")
        self.settings = settings
        self.lock_timeout = lock_timeout

    @contextmanager
    def connect(self) -> Iterator[Reader]:
        if self.settings.target == "postgres":
            raw = _connect_postgres()
            try:
                yield Reader(raw, "postgres")
            finally:
                raw.close()
            return
        with reader_lock(self.settings, timeout=self.lock_timeout):
            con = connect_duckdb(self.settings, read_only=True)
            try:
                yield Reader(con, "duckdb")
            finally:
                con.close()

    def queue(
        self,
        filters: QueueFilter,
        *,
        decided_pairs: Sequence[str] = (),
        decided_exceptions: Sequence[str] = (),
        page_size: int = PAGE_SIZE,
    ) -> QueuePage:
        binds = {
            **filters.binds(),
            "decided_pairs": list(decided_pairs),
            "decided_exceptions": list(decided_exceptions),
        }
        # One statement: the page and the totals read one materialized `filtered`.
        sql = _queue_sql() + f""",
page_rows as (
    select {QUEUE_COLUMNS}, rank_weight from filtered order by rank_weight desc, item_id limit $limit offset $offset
),
totals as (
    select kind, currency, count(*) as items, sum(amount_minor) as amount from filtered group by kind, currency
)
select 'row' as part, {QUEUE_COLUMNS}, rank_weight, null as items, null as amount from page_rows
union all
select 'total', kind, null, null, null, currency, null, null, null, null, null, null, null, null, null, items, amount
from totals
"""
        choices_sql = f"""
select 'rule' as choice, rule_name as value from {schema('marts')}.fct_reconciliation_matches where status = 'suggested'
union
select 'period', cast(period as varchar) from {schema('marts')}.fct_reconciliation_exceptions where period is not null
union
select 'currency', currency from {schema('marts')}.fct_reconciliation_exceptions
union
select 'currency', currency from {schema('marts')}.fct_reconciliation_matches
union
select 'currency', currency from {schema('marts')}.fct_bank_exceptions
union
select 'period', cast(cast(extract(year from event_date) * 100 + extract(month from event_date) as integer) as varchar)
from {schema('marts')}.fct_bank_exceptions where event_date is not null
"""
        with self.connect() as con:
            page = filters.page
            while True:
                result = con.rows(sql, {**binds, "limit": page_size, "offset": (page - 1) * page_size})
                totals = sorted(
                    (Total(r[1], r[5], int(r[15]), int(r[16])) for r in result if r[0] == "total"),
                    key=lambda t: (t.kind, t.currency),
                )
                matching = sum(total.items for total in totals)
                pages = max(1, -(-matching // page_size))
                if page <= pages:
                    break
                page = pages  # past the end (the queue shrank): the last page
            rows = sorted((r for r in result if r[0] == "row"), key=lambda r: (-r[14], r[2]))
            choices: dict[str, list[str]] = {"rule": [], "period": [], "currency": []}
            for choice, value in con.rows(choices_sql):
                if value is not None:
                    choices[choice].append(value)
            loaded = _loaded_decisions(con)
        return QueuePage(
            items=[QueueItem(*row[1:14]) for row in rows],
            matching=matching,
            totals=totals,
            page=page,
            pages=pages,
            rules=sorted(choices["rule"]),
            periods=sorted((int(p) for p in choices["period"]), reverse=True),
            currencies=sorted(choices["currency"]),
            loaded_decisions=loaded,
        )

    def queue_pairs(self, filters: QueueFilter, *, decided_pairs: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """The suggested pairs that fit `filters` (for a bulk accept), most at stake first."""
        with self.connect() as con:
            return con.dicts(
                _queue_sql()
                + f"""select matches.match_id, matches.match_type, matches.rule_name, matches.stripe_object_id,
                    matches.erp_document_number, matches.erp_payment_number, matches.erp_journal_number
                from filtered
                inner join {schema('marts')}.fct_reconciliation_matches as matches on filtered.item_id = matches.match_id
                where filtered.kind = 'match'
                order by filtered.rank_weight desc, filtered.item_id
                limit $limit""",
                {**filters.binds(), "kind": "match", "decided_pairs": list(decided_pairs),
                 "decided_exceptions": [], "limit": limit},
            )

    # --- one item ----------------------------------------------------------------------------

    def match(self, match_id: str) -> dict[str, Any] | None:
        with self.connect() as con:
            row = _one(con, f"select * from {schema('marts')}.fct_reconciliation_matches where match_id = $id",
                       {"id": match_id})
            if row is None:
                return None
            row["stripe"] = self._stripe_side(con, row["stripe_object_id"])
            row["erp"] = self._erp_side(con, row.get("erp_payment_number"), row.get("erp_journal_number"),
                                        row.get("erp_document_number"))
            row["evidence_levels"] = self._evidence(con, row)
            row["candidates"] = self._candidates(con, row)
            row["past"] = self._past_match_decisions(con, row)
            row["exceptions"] = _all(
                con,
                f"select exception_id, exception_type, disposition, confidence, currency, amount_minor "
                f"from {schema('marts')}.fct_reconciliation_exceptions where object_id in ($a, $b, $c)",
                {"a": row["stripe_object_id"], "b": row.get("erp_payment_number") or "",
                 "c": row.get("erp_journal_number") or ""},
            )
            return row

    def exception(self, exception_id: str) -> dict[str, Any] | None:
        with self.connect() as con:
            row = _one(con, f"select * from {schema('marts')}.fct_reconciliation_exceptions where exception_id = $id",
                       {"id": exception_id})
            if row is None:
                return None
            object_id = row["object_id"]
            if row["side"] == "stripe":
                row["stripe"] = self._stripe_side(con, object_id)
                row["erp"] = self._erp_side(con, row.get("erp_reference"), None, None) if row.get("erp_reference") else None
            else:
                row["stripe"] = None
                row["erp"] = self._erp_side(
                    con, object_id if row["object_type"] == "payment" else None,
                    object_id if row["object_type"] != "payment" else None, None,
                )
            row["matches"] = _all(
                con,
                f"select match_id, match_type, stripe_object_id, erp_document_number, erp_payment_number, "
                f"erp_journal_number, rule_name, status, currency, stripe_amount_minor, erp_amount_minor "
                f"from {schema('marts')}.fct_reconciliation_matches "
                "where stripe_object_id = $id or erp_payment_number = $id or erp_journal_number = $id",
                {"id": object_id},
            )
            row["past"] = _all(
                con,
                f"""select resolutions.object_id, resolutions.exception_type, resolutions.disposition,
                    resolutions.resolved_at, resolutions.resolved_by, resolutions.note,
                    case when resolutions.exception_type = $type then 'same type' else 'same customer' end as why
                from {schema('staging')}.stg_decisions__exception_resolutions as resolutions
                left join {schema('marts')}.fct_reconciliation_exceptions as exceptions
                    on resolutions.object_id = exceptions.object_id
                    and resolutions.exception_type = exceptions.exception_type
                where resolutions.object_id <> $object
                    and (resolutions.exception_type = $type
                        or ($email is not null and exceptions.customer_email = $email))
                order by (exceptions.customer_email is not distinct from $email) desc, resolutions.resolved_at desc
                limit 6""",
                {"type": row["exception_type"], "object": object_id, "email": row.get("customer_email")},
            )
            return row

    def bank_exception(self, exception_id: str) -> dict[str, Any] | None:
        """A bank exception (fct_bank_exceptions) with its evidence: the payout, the ERP deposit,
        the statement and its lines that bear on it, past resolutions of its type."""
        marts, intermediate = schema("marts"), schema("intermediate")
        with self.connect() as con:
            row = _one(con, f"select * from {marts}.fct_bank_exceptions where exception_id = $id", {"id": exception_id})
            if row is None:
                return None
            object_id, object_type, reference = row["object_id"], row["object_type"], row.get("reference")
            payout = object_id if object_type == "payout" else (
                reference if reference and reference.startswith("po_") else None
            )
            journal = object_id if object_type == "deposit" else (reference if object_type == "statement_line" else None)
            row["stripe"] = self._stripe_side(con, payout) if payout else None
            row["erp"] = self._erp_side(con, None, journal, None) if journal else None
            row["period"] = (
                row["event_date"].year * 100 + row["event_date"].month if row.get("event_date") else None
            )
            row["bank_lines"] = _all(
                con,
                f"""select line_id, statement_key, source_file, file_line, value_date, currency, amount_minor,
                    bank_reference, customer_reference, description, payout_id, erp_journal_number, status
                from {marts}.rpt_bank_reconciliation
                where line_id = $object or statement_key = $object or payout_id = $payout
                    or erp_journal_number = $journal
                order by statement_key, line_position
                limit 50""",
                {"object": object_id, "payout": payout or "", "journal": journal or ""},
            )
            statement_key = object_id if object_type == "statement" else next(
                (line["statement_key"] for line in row["bank_lines"] if line["line_id"] == object_id), None
            )
            row["statement"] = _one(
                con,
                f"""select statement_key, statement_id, account, currency, source_file, file_format, from_date,
                    to_date, opening_balance_minor, closing_balance_minor, line_count, quarantined_line_count,
                    lines_total_minor, difference_minor, is_balanced
                from {intermediate}.int_bank_statements_balanced where statement_key = $key""",
                {"key": statement_key or ""},
            )
            row["past"] = _all(
                con,
                f"""select object_id, exception_type, disposition, resolved_at, resolved_by, note,
                    'same type' as why
                from {intermediate}.int_bank_exception_resolutions_latest
                where exception_type = $type and object_id <> $object
                order by resolved_at desc, object_id
                limit 6""",
                {"type": row["exception_type"], "object": object_id},
            )
            return row

    def _stripe_side(self, con: Reader, object_id: str) -> dict[str, Any] | None:
        if object_id.startswith("po_"):
            return _one(
                con,
                f"""select payout_id as id, 'payout' as object, currency, amount_minor, status, method,
                    description, created_date, arrival_date, failure_message, statement_descriptor
                from {schema('staging')}.stg_stripe__payouts where payout_id = $id""",
                {"id": object_id},
            )
        side = _one(
            con,
            f"""select items.stripe_object_id as id, items.object_type as object, items.currency,
                items.amount_minor, items.settlement_currency, items.settlement_amount_minor, items.fee_minor,
                items.net_minor, items.item_date as created_date, items.customer_email, items.customer_name,
                items.reference_text, items.charge_id
            from {schema('intermediate')}.int_stripe_items_prepared as items
            where items.stripe_object_id = $id""",
            {"id": object_id},
        )
        if side is not None and side.get("charge_id"):
            charge = _one(
                con,
                f"""select description, stripe_invoice_number, metadata_invoice_number, customer_id,
                    payment_intent_id, is_refunded, is_disputed
                from {schema('intermediate')}.int_charges_enriched where charge_id = $id""",
                {"id": side["charge_id"]},
            )
            side.update(charge or {})
        return side

    def _erp_side(
        self, con: Reader, payment: str | None, journal: str | None, document: str | None
    ) -> dict[str, Any] | None:
        if payment:
            row = _one(
                con,
                f"""select payment_number, document_number, payment_date, currency, amount_minor, payment_method,
                    memo, document_type, customer_number, customer_name, customer_email, document_date,
                    document_currency, document_amount_minor, document_status, external_reference
                from {schema('intermediate')}.int_erp_payments_enriched where payment_number = $id""",
                {"id": payment},
            )
            if row is not None:
                return {"kind": "payment", **row}
        if journal:
            row = _one(
                con,
                f"""select journal_number, posting_date, currency, deposit_amount_minor as amount_minor, memo,
                    memo_payout_id
                from {schema('intermediate')}.int_gl_deposits_identified where journal_number = $id""",
                {"id": journal},
            )
            if row is not None:
                return {"kind": "journal", **row}
        if document:
            row = _one(
                con,
                f"""select document_number, document_type, customer_number, customer_name, customer_email,
                    document_date, due_date, currency, amount_minor, status as document_status, external_reference
                from {schema('staging')}.stg_erp__invoices where document_number = $id""",
                {"id": document},
            )
            if row is not None:
                return {"kind": "document", **row}
        return None

    def _evidence(self, con: Reader, match: dict[str, Any]) -> list[dict[str, Any]]:
        """The scorer's levels for the pair with the weight each contributed (ml.match_scorer_weights)."""
        text = match.get("evidence") or ""
        levels = []
        for part in text.split(";"):
            name, _, level = part.strip().rpartition(" ")
            if name and level:
                levels.append({"feature": name, "column": name.replace(" ", "_") + "_level", "level": level})
        if not levels:
            return []
        try:
            weights = {
                (feature, level): weight
                for feature, level, weight in con.rows(
                    f"select feature, level, weight from {schema('ml')}.match_scorer_weights where match_type = $type",
                    {"type": match["match_type"]},
                )
            }
        except MissingRelationError:  # --rules-only or not learned yet: the levels alone
            weights = {}
        for entry in levels:
            entry["weight"] = weights.get((entry["column"], entry["level"]))
        if ("intercept", "") in weights:
            levels.append({"feature": "baseline (intercept)", "column": "intercept", "level": "",
                           "weight": weights[("intercept", "")]})
        return levels

    def _candidates(self, con: Reader, match: dict[str, Any]) -> list[dict[str, Any]]:
        """A short list of other ERP items that could be this Stripe object's counterpart: the scored
        candidate pairs (charges and refunds) or deposits of the payout's currency and amount near
        its arrival (payouts); pairs rejected already are left out."""
        binds = {"id": match["stripe_object_id"], "current": match.get("erp_payment_number")
                 or match.get("erp_journal_number") or ""}
        if match["match_type"] == "payout_deposit":
            return _all(
                con,
                f"""select deposits.journal_number as erp_journal_number, null as erp_payment_number,
                    null as erp_document_number, deposits.posting_date as erp_date, deposits.currency,
                    deposits.deposit_amount_minor as erp_amount_minor, deposits.memo, null as customer,
                    null as probability, taken.stripe_object_id as matched_to
                from {schema('staging')}.stg_stripe__payouts as payouts
                inner join {schema('intermediate')}.int_gl_deposits_identified as deposits
                    on deposits.currency = payouts.currency
                    -- within 5 % of the payout or 1.00, in integers on both targets
                    and abs(deposits.deposit_amount_minor - payouts.amount_minor) * 20
                        <= greatest(payouts.amount_minor, 2000)
                    and abs(cast(deposits.posting_date as date) - cast(payouts.arrival_date as date)) <= 10
                left join {schema('marts')}.fct_reconciliation_matches as taken
                    on taken.erp_journal_number = deposits.journal_number
                where payouts.payout_id = $id and deposits.journal_number <> $current
                    and not exists (
                        select 1 from {schema('staging')}.stg_decisions__match_decisions as rejected
                        where rejected.decision = 'rejected' and rejected.stripe_object_id = payouts.payout_id
                            and rejected.erp_journal_number = deposits.journal_number
                    )
                order by abs(deposits.deposit_amount_minor - payouts.amount_minor),
                    abs(cast(deposits.posting_date as date) - cast(payouts.arrival_date as date)),
                    deposits.journal_number
                limit 6""",
                binds,
            )
        return _all(
            con,
            f"""select scored.payment_number as erp_payment_number, payments.document_number as erp_document_number,
                null as erp_journal_number, payments.payment_date as erp_date, payments.currency,
                payments.amount_minor as erp_amount_minor, payments.memo,
                coalesce(payments.customer_name, payments.customer_email) as customer,
                cast(scored.probability as decimal(5, 4)) as probability, taken.stripe_object_id as matched_to
            from {schema('matching')}.int_match_pairs_scored as scored
            left join {schema('intermediate')}.int_erp_payments_enriched as payments
                on scored.payment_number = payments.payment_number
            left join {schema('marts')}.fct_reconciliation_matches as taken
                on taken.erp_payment_number = scored.payment_number
            where scored.stripe_object_id = $id and scored.payment_number <> $current
                and not exists (
                    select 1 from {schema('staging')}.stg_decisions__match_decisions as rejected
                    where rejected.decision = 'rejected' and rejected.stripe_object_id = scored.stripe_object_id
                        and rejected.erp_payment_number = scored.payment_number
                )
            order by scored.probability desc, scored.payment_number
            limit 6""",
            binds,
        )

    def _past_match_decisions(self, con: Reader, match: dict[str, Any]) -> list[dict[str, Any]]:
        """The latest decisions about pairs of the same customer (by e-mail), else of the same rule
        (the rule that proposes the decided pair, int_match_candidates_unioned), else of the same
        match type: the closest first."""
        return _all(
            con,
            f"""with customer as (
                select customer_email from {schema('intermediate')}.int_stripe_items_prepared
                where stripe_object_id = $id
            ),
            proposed as (
                select stripe_object_id, erp_payment_number, erp_journal_number, min(rule_name) as rule_name,
                    min(match_type) as match_type
                from {schema('matching')}.int_match_candidates_unioned
                where rule_name <> 'human_decision'
                group by stripe_object_id, erp_payment_number, erp_journal_number
            ),
            decided as (
                select decisions.*, proposed.rule_name, items.customer_email,
                    coalesce(proposed.match_type, case
                        when starts_with(decisions.stripe_object_id, 'po_') then 'payout_deposit'
                        when starts_with(decisions.stripe_object_id, 're_') then 'refund_payment'
                        else 'charge_payment' end) as match_type
                from {schema('staging')}.stg_decisions__match_decisions as decisions
                left join proposed
                    on decisions.stripe_object_id = proposed.stripe_object_id
                    and decisions.erp_payment_number is not distinct from proposed.erp_payment_number
                    and decisions.erp_journal_number is not distinct from proposed.erp_journal_number
                left join {schema('intermediate')}.int_stripe_items_prepared as items
                    on decisions.stripe_object_id = items.stripe_object_id
                where decisions.stripe_object_id <> $id
            ),
            ranked as (
                select decided.*,
                    case
                        when decided.customer_email is not null
                            and decided.customer_email = (select customer_email from customer) then 1
                        when decided.rule_name = $rule then 2
                        else 3
                    end as closeness
                from decided
                where decided.match_type = $type
            )
            select stripe_object_id, erp_document_number, erp_payment_number, erp_journal_number, decision,
                decided_at, decided_by, decision_source, rule_name,
                case closeness when 1 then 'same customer' when 2 then 'same rule' else 'same type' end as why
            from ranked
            order by closeness, decided_at desc
            limit 6""",
            {"id": match["stripe_object_id"], "rule": match["rule_name"], "type": match["match_type"]},
        )


def _loaded_decisions(con: Reader) -> frozenset[str]:
    """The ids of the review's decisions in the warehouse (what the last `recon run` loaded)."""
    raw = schema("raw_decisions")
    ids: set[str] = set()
    for table in ("review_match_decisions", "review_exception_resolutions"):
        try:
            ids.update(row[0] for row in con.rows(f"select decision_id from {raw}.{table}"))
        except MissingRelationError:
            continue
    return frozenset(ids)


def _one(con: Reader, sql: str, binds: Mapping[str, Any]) -> dict[str, Any] | None:
    rows = _all(con, sql, binds)
    return rows[0] if rows else None


def _all(con: Reader, sql: str, binds: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        return con.dicts(sql, binds)
    except MissingRelationError as error:
        raise UserError(f"The marts are not built in this warehouse ({error}): run `recon run` first.") from None


def _connect_postgres() -> Any:
    """A read-only, autocommit connection to the PostgreSQL warehouse (RECON_PG_* settings). A
    server that cannot be reached is SourceUnavailableError: the page says to try again, and a
    decision is still recorded from what its page showed."""
    c = postgres_credentials()
    try:
        raw = psycopg2.connect(
            host=c["host"], port=c["port"], user=c["username"], dbname=c["database"],
            password=c.get("password") or None, connect_timeout=5,
        )
    except psycopg2.OperationalError as error:
        raise SourceUnavailableError(
            f"Cannot reach the PostgreSQL warehouse ({str(error).strip()}): try again in a moment."
        ) from None
    raw.set_session(readonly=True, autocommit=True)
    return raw


def period_label(period: int | None) -> str:
    return f"{period // 100}-{period % 100:02d}" if period else ""


def as_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)
