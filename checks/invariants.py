"""The checks, as SQL: each invariant is a query returning the rows that break it.

Every query returns the same columns, so a failure reads the same whatever broke:
`object_id` (the Stripe id, ERP number or key), `currency`, `amount_minor` (the object's
amount, in minor units of `currency`), `at_stake_minor` (how much is wrong: the difference, or
the whole amount when the object is unaccounted for) and `detail` (one sentence).

Queries are templates: `{batch}` is the invariant's own table (Great Expectations substitutes
it), `$raw_stripe`, `$raw_erp`, `$raw_decisions`, `$marts` are the schemas (with
RECON_SCHEMA_PREFIX), `$currencies` the currency-exponent seed and `$gl_accounts` the default
account roles, both inlined as VALUES. The SQL is portable between DuckDB and PostgreSQL: no
`::` casts, no `%` and no braces (Great Expectations formats the text with `str.format` and
SQLAlchemy reads `:name` as a bind parameter).

Suites: `raw` holds the checks of the raw inputs and the invariants that need only them
(`amount - fee = net`, payouts equal to their composition, balanced journals); `marts` holds
the invariants that read the marts (conservation, each object matched once, decisions kept,
the payout rollup). The names are what a failure prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

Suite = Literal["raw", "marts"]
SUITES: Final[tuple[Suite, ...]] = ("raw", "marts")



@dataclass(frozen=True)
class Invariant:
    """One check: its name, where it runs, and the SQL of the rows that break it."""

    name: str
    suite: Suite
    schema: str  # a schema placeholder without `$`: raw_stripe, raw_erp, raw_decisions, marts
    table: str  # the table `{batch}` stands for
    description: str
    body: str  # SELECT object_id, currency, amount_minor, at_stake_minor, detail ...
    requires: tuple[str, ...] = ()  # other tables ("schema.table"), besides its own
    optional: bool = False  # a missing table skips it (nothing to check) instead of failing the run
    severity: Literal["critical", "info"] = "critical"  # info: reported, never fails the run
    needs_marts: bool = field(default=False)

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.relation, *self.requires)


# --- raw inputs -------------------------------------------------------------------------------

# Columns every row must carry (docs/contract.md sections 2 and 3), and the money columns that
# must be whole numbers of minor units.
_STRIPE_TABLES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]]] = {
    # table: (required columns, money columns, optional table)
    "balance_transactions": (("id", "amount", "fee", "net", "currency", "type", "status", "created"), ("amount", "fee", "net"), False),
    "charges": (("id", "amount", "currency", "status", "created"), ("amount",), False),
    "refunds": (("id", "amount", "currency", "status", "created"), ("amount",), True),
    "payouts": (("id", "amount", "currency", "status", "arrival_date", "created"), ("amount",), False),
    "disputes": (("id", "amount", "currency", "charge", "status", "created"), ("amount",), True),
}
_STRIPE_ID_ONLY: Final[tuple[str, ...]] = ("payment_intents", "invoices", "customers")

_ERP_TABLES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    # table: (key columns, required columns, money columns in major units)
    "invoices": (
        ("document_number",),
        ("document_number", "document_type", "customer_number", "document_date", "currency", "amount"),
        ("amount",),
    ),
    "payments": (("payment_number",), ("payment_number", "payment_date", "currency", "amount"), ("amount",)),
    "gl_entries": (
        ("journal_number", "line_number"),
        ("journal_number", "line_number", "posting_date", "account_number", "debit", "credit", "currency"),
        ("debit", "credit"),
    ),
}


def _key_expr(columns: tuple[str, ...]) -> str:
    if len(columns) == 1:
        return f"cast({columns[0]} as varchar)"
    return " || '/' || ".join(f"coalesce(cast({c} as varchar), '')" for c in columns)


def _keys_unique(
    schema: str, table: str, keys: tuple[str, ...], amount: str, currency: str, optional: bool,
    required: tuple[str, ...] | None = None,
) -> Invariant:
    key = _key_expr(keys)
    missing = " or ".join(f"{c} is null" for c in (required or keys))
    return Invariant(
        name=f"{schema}.{table}: key {', '.join(keys)} unique and present",
        suite="raw",
        schema=schema,
        table=table,
        description=f"Every row of {schema}.{table} has a {', '.join(keys)} and no two rows share it.",
        body=f"""
select
    {key} as object_id,
    min({currency}) as currency,
    min({amount}) as amount_minor,
    sum({amount}) as at_stake_minor,
    case when max(case when {missing} then 1 else 0 end) = 1 then 'key missing'
        else cast(count(*) as varchar) || ' rows share this key' end as detail
from {{batch}} as batch_rows
group by {key}
having count(*) > 1 or max(case when {missing} then 1 else 0 end) = 1
""",
        optional=optional,
    )


def _stripe_fields(table: str, required: tuple[str, ...], money: tuple[str, ...], optional: bool) -> Invariant:
    missing = " or ".join(f"{c} is null" for c in required)
    fractional = " or ".join(f"{c} <> round({c})" for c in money)
    missing_names = " || ".join(f"case when {c} is null then ' {c}' else '' end" for c in required)
    return Invariant(
        name=f"raw_stripe.{table}: required fields present, amounts whole minor units",
        suite="raw",
        schema="raw_stripe",
        table=table,
        description=(
            f"Every {table} row has {', '.join(required)}; {', '.join(money)} are whole numbers "
            "of minor units (Stripe sends integers)."
        ),
        body=f"""
select
    cast(id as varchar) as object_id,
    lower(currency) as currency,
    amount as amount_minor,
    amount as at_stake_minor,
    case when {missing} then 'missing:' || {missing_names}
        else 'amount not a whole number of minor units' end as detail
from {{batch}} as batch_rows
where {missing} or {fractional}
""",
        optional=optional,
    )


def _currencies_known(schema: str, table: str, id_column: str, amount_sql: str, optional: bool) -> Invariant:
    return Invariant(
        name=f"{schema}.{table}: currency known",
        suite="raw",
        schema=schema,
        table=table,
        description=f"Every {schema}.{table} row's currency is in the seed seeds/currencies.csv.",
        body=f"""
select
    cast(rows_.{id_column} as varchar) as object_id,
    lower(trim(rows_.currency)) as currency,
    {amount_sql} as amount_minor,
    {amount_sql} as at_stake_minor,
    'unknown currency ' || coalesce('''' || rows_.currency || '''', 'null') as detail
from {{batch}} as rows_
left join $currencies
    on lower(trim(rows_.currency)) = currencies.currency
where currencies.currency is null
""",
        optional=optional,
    )


def _erp_fields(table: str, keys: tuple[str, ...], required: tuple[str, ...], money: tuple[str, ...]) -> Invariant:
    missing = " or ".join(f"rows_.{c} is null" for c in required)
    missing_names = " || ".join(f"case when rows_.{c} is null then ' {c}' else '' end" for c in required)
    inexact = " or ".join(
        f"rows_.{c} * currencies.factor <> round(rows_.{c} * currencies.factor)" for c in money
    )
    negative = " or ".join(f"rows_.{c} < 0" for c in money) if table == "gl_entries" else "1 = 0"
    amount = f"rows_.{money[0]}"
    return Invariant(
        name=f"raw_erp.{table}: required fields present, amounts exact in minor units",
        suite="raw",
        schema="raw_erp",
        table=table,
        description=(
            f"Every ERP {table} row has {', '.join(required)}; {', '.join(money)} convert exactly "
            "to minor units of the row's currency" + (" and are not negative." if table == "gl_entries" else ".")
        ),
        body=f"""
select
    {_key_expr(tuple(f"rows_.{k}" for k in keys))} as object_id,
    lower(trim(rows_.currency)) as currency,
    cast(round({amount} * coalesce(currencies.factor, 1)) as bigint) as amount_minor,
    cast(round({amount} * coalesce(currencies.factor, 1)) as bigint) as at_stake_minor,
    case
        when {missing} then 'missing:' || {missing_names}
        when {negative} then 'negative amount'
        else 'amount has more decimals than the currency''s minor unit'
    end as detail
from {{batch}} as rows_
left join $currencies
    on lower(trim(rows_.currency)) = currencies.currency
where {missing} or {negative} or ({inexact})
""",
    )


def _quarantine(schema: str) -> list[Invariant]:
    return [
        Invariant(
            name=f"{schema}.quarantine: every bad row names its file, line and reason",
            suite="raw",
            schema=schema,
            table="quarantine",
            description="A quarantined row is never silent: it carries its source, line and reason.",
            body="""
select
    cast(quarantine_id as varchar) as object_id,
    cast(null as varchar) as currency,
    cast(null as bigint) as amount_minor,
    cast(0 as bigint) as at_stake_minor,
    'quarantine row without ' || case when source is null then 'source' when line is null then 'line'
        else 'reason' end as detail
from {batch} as batch_rows
where source is null or line is null or reason is null
""",
            optional=True,
        ),
        Invariant(
            name=f"{schema}.quarantine: rows counted",
            suite="raw",
            schema=schema,
            table="quarantine",
            description="How many input rows were quarantined, by table and reason (reported, not a failure).",
            body="""
select
    coalesce(table_name, '?') || ': ' || coalesce(reason, '?') as object_id,
    cast(null as varchar) as currency,
    cast(count(*) as bigint) as amount_minor,
    cast(0 as bigint) as at_stake_minor,
    cast(count(*) as varchar) || ' row(s), first at ' || min(coalesce(source, '?') || ' line '
        || coalesce(cast(line as varchar), '?')) as detail
from {batch} as batch_rows
group by coalesce(table_name, '?') || ': ' || coalesce(reason, '?')
""",
            optional=True,
            severity="info",
        ),
    ]


def _raw_invariants() -> list[Invariant]:
    checks: list[Invariant] = []
    for table, (required, money, optional) in _STRIPE_TABLES.items():
        checks.append(_keys_unique("raw_stripe", table, ("id",), "amount", "lower(currency)", optional))
        checks.append(_stripe_fields(table, required, money, optional))
        checks.append(_currencies_known("raw_stripe", table, "id", "rows_.amount", optional))
    for table in _STRIPE_ID_ONLY:
        checks.append(
            _keys_unique("raw_stripe", table, ("id",), "cast(null as bigint)", "cast(null as varchar)", True)
        )
    checks.append(
        _keys_unique(
            "raw_stripe", "payout_balance_transactions", ("payout_id", "balance_transaction_id"),
            "cast(null as bigint)", "cast(null as varchar)", False,
        )
    )
    for table, (keys, required, money) in _ERP_TABLES.items():
        # A duplicate or an unknown currency shows no amount: without a known exponent there is
        # no exact minor-unit amount to show.
        checks.append(_keys_unique("raw_erp", table, keys, "cast(null as bigint)", "lower(trim(currency))", False))
        checks.append(_erp_fields(table, keys, required, money))
        key = keys[0] if len(keys) == 1 else "journal_number"
        checks.append(
            _currencies_known("raw_erp", table, key, "cast(null as bigint)", False)
        )
    checks.append(
        _keys_unique(
            "raw_decisions", "match_decisions",
            ("stripe_object_id", "erp_document_number", "erp_payment_number", "erp_journal_number"),
            "cast(null as bigint)", "cast(null as varchar)", True, required=("stripe_object_id",),
        )
    )
    checks += _quarantine("raw_erp")
    checks += _quarantine("raw_decisions")
    checks += _raw_balance_invariants()
    return checks


def _raw_balance_invariants() -> list[Invariant]:
    return [
        Invariant(
            name="amount - fee = net",
            suite="raw",
            schema="raw_stripe",
            table="balance_transactions",
            description="Every Stripe balance transaction: amount - fee = net (docs/contract.md section 6).",
            body="""
select
    cast(id as varchar) as object_id,
    lower(currency) as currency,
    amount as amount_minor,
    coalesce(amount - fee - net, amount) as at_stake_minor,
    'amount ' || coalesce(cast(amount as varchar), 'null') || ' - fee '
        || coalesce(cast(fee as varchar), 'null') || ' <> net ' || coalesce(cast(net as varchar), 'null') as detail
from {batch} as batch_rows
where amount - fee <> net or amount is null or fee is null or net is null
""",
        ),
        Invariant(
            name="paid payout = net of its composition",
            suite="raw",
            schema="raw_stripe",
            table="payouts",
            description=(
                "Every paid automatic payout equals the sum of net of the balance transactions it "
                "settled, its own payout transaction left out (docs/contract.md section 6)."
            ),
            requires=("raw_stripe.payout_balance_transactions", "raw_stripe.balance_transactions"),
            body="""
with

composition as (
    select
        settled.payout_id,
        count(*) as transaction_count,
        sum(transactions.net) as net_minor
    from $raw_stripe.payout_balance_transactions as settled
    inner join $raw_stripe.balance_transactions as transactions
        on settled.balance_transaction_id = transactions.id
    inner join $raw_stripe.payouts as own
        on settled.payout_id = own.id
    where transactions.id <> coalesce(own.balance_transaction, '')
        and not (transactions.type = 'payout' and transactions.source = own.id)
    group by settled.payout_id
)

select
    cast(payouts.id as varchar) as object_id,
    lower(payouts.currency) as currency,
    payouts.amount as amount_minor,
    payouts.amount - coalesce(composition.net_minor, 0) as at_stake_minor,
    'payout ' || cast(payouts.amount as varchar) || ' <> net '
        || coalesce(cast(composition.net_minor as varchar), 'of nothing (no composition loaded)')
        || ' of ' || cast(coalesce(composition.transaction_count, 0) as varchar) || ' transactions' as detail
from {batch} as payouts
left join composition
    on payouts.id = composition.payout_id
where payouts.status = 'paid'
    and payouts.automatic = true
    and payouts.amount <> coalesce(composition.net_minor, 0)
""",
        ),
        Invariant(
            name="every ERP journal balances",
            suite="raw",
            schema="raw_erp",
            table="gl_entries",
            description="Every ERP journal: debits = credits, per journal and currency, in exact decimals.",
            body="""
with

journals as (
    select
        journal_number,
        lower(trim(currency)) as currency,
        count(*) as line_count,
        sum(coalesce(debit, 0)) as debit_total,
        sum(coalesce(credit, 0)) as credit_total
    from {batch} as batch_rows
    group by journal_number, lower(trim(currency))
)

select
    cast(journals.journal_number as varchar) as object_id,
    journals.currency,
    cast(round(journals.debit_total * coalesce(currencies.factor, 1)) as bigint) as amount_minor,
    cast(round((journals.debit_total - journals.credit_total) * coalesce(currencies.factor, 1)) as bigint)
        as at_stake_minor,
    'debits ' || cast(journals.debit_total as varchar) || ' <> credits '
        || cast(journals.credit_total as varchar) || ' over '
        || cast(journals.line_count as varchar) || ' lines' as detail
from journals
left join $currencies
    on journals.currency = currencies.currency
where journals.debit_total <> journals.credit_total
""",
        ),
    ]


# --- marts ------------------------------------------------------------------------------------

# The items that must each be matched or be an exception (docs/contract.md section 6), as
# (name, relation, SQL of the items: item_id, currency, amount_minor, side, and how a match
# row points at it). Amounts are magnitudes: the marts hold refunds and ERP refunds paid
# positive, so a raw amount counts by its absolute value.
_STRIPE_DEPOSITS_SQL = """
select
    lines.journal_number as item_id,
    lower(trim(lines.currency)) as currency,
    cast(round(sum(lines.debit) * max(currencies.factor)) as bigint) as amount_minor
from $raw_erp.gl_entries as lines
inner join account_roles
    on lines.account_number = account_roles.account_number
    and account_roles.role = 'bank'
left join $currencies
    on lower(trim(lines.currency)) = currencies.currency
where lines.debit > 0
    and (position('STRIPE' in upper(coalesce(lines.memo, ''))) > 0
        or position('po_' in coalesce(lines.memo, '')) > 0)
group by lines.journal_number, lower(trim(lines.currency))
"""

_ACCOUNT_ROLES_SQL = """
select account_number, lower(role) as role
from $raw_erp.gl_accounts
union all
select defaults.account_number, defaults.role
from $gl_accounts
where defaults.account_number not in (
    select account_number from $raw_erp.gl_accounts where account_number is not null
)
"""


@dataclass(frozen=True)
class _ItemClass:
    key: str
    label: str
    schema: str
    table: str
    items_sql: str  # item_id, currency, amount_minor (raw, may be negative)
    match_column: str  # the matches mart column naming the item
    match_amount: str  # the matches mart amount that accounts for it
    match_filter: str
    side: str
    requires: tuple[str, ...] = ()
    ctes: str = ""


_ITEM_CLASSES: Final[tuple[_ItemClass, ...]] = (
    _ItemClass(
        key="charges", label="succeeded Stripe charges", schema="raw_stripe", table="charges",
        items_sql="select id as item_id, lower(currency) as currency, amount as amount_minor from {batch} as batch_rows where status = 'succeeded'",
        match_column="stripe_object_id", match_amount="stripe_amount_minor",
        match_filter="match_type = 'charge_payment'", side="stripe",
    ),
    _ItemClass(
        key="refunds", label="Stripe refunds", schema="raw_stripe", table="refunds",
        items_sql=(
            "select id as item_id, lower(currency) as currency, amount as amount_minor from {batch} as batch_rows "
            "where coalesce(status, '') not in ('failed', 'canceled')"
        ),
        match_column="stripe_object_id", match_amount="stripe_amount_minor",
        match_filter="match_type = 'refund_payment'", side="stripe",
    ),
    _ItemClass(
        key="payouts", label="Stripe payouts", schema="raw_stripe", table="payouts",
        items_sql="select id as item_id, lower(currency) as currency, amount as amount_minor from {batch} as batch_rows",
        match_column="stripe_object_id", match_amount="stripe_amount_minor",
        match_filter="match_type = 'payout_deposit'", side="stripe",
    ),
    _ItemClass(
        key="erp_payments", label="ERP payments by Stripe", schema="raw_erp", table="payments",
        items_sql="""
select
    payments.payment_number as item_id,
    lower(trim(payments.currency)) as currency,
    cast(round(payments.amount * currencies.factor) as bigint) as amount_minor
from {batch} as payments
left join $currencies
    on lower(trim(payments.currency)) = currencies.currency
where lower(trim(coalesce(payments.payment_method, ''))) = 'stripe'
""",
        match_column="erp_payment_number", match_amount="erp_amount_minor",
        match_filter="match_type in ('charge_payment', 'refund_payment')", side="erp",
    ),
    _ItemClass(
        key="deposits", label="ERP bank deposits of Stripe payouts", schema="raw_erp", table="gl_entries",
        items_sql=_STRIPE_DEPOSITS_SQL.replace("$raw_erp.gl_entries", "{batch}"),
        match_column="erp_journal_number", match_amount="erp_amount_minor",
        match_filter="match_type = 'payout_deposit'", side="erp",
        requires=("raw_erp.gl_accounts",),
        ctes=f"account_roles as ({_ACCOUNT_ROLES_SQL}),",
    ),
)


def _conservation(item: _ItemClass) -> Invariant:
    return Invariant(
        name=f"conservation: {item.label}",
        suite="marts",
        schema=item.schema,
        table=item.table,
        description=(
            f"Every one of the {item.label} is matched or is an exception, and per currency the raw "
            "total equals the matched plus the excepted amount to the minor unit (docs/contract.md "
            "section 6). An item counts by its matched amount when matched (split rows summed), "
            "else by its exception's amount; amounts compare as magnitudes."
        ),
        requires=(*item.requires, "marts.fct_reconciliation_matches", "marts.fct_reconciliation_exceptions"),
        needs_marts=True,
        body=f"""
with

{item.ctes}

items as (
{item.items_sql}
),

matched as (
    select
        {item.match_column} as item_id,
        count(*) as match_rows,
        sum({item.match_amount}) as amount_minor
    from $marts.fct_reconciliation_matches
    where {item.match_filter}
        and status <> 'rejected'
        and {item.match_column} is not null
    group by {item.match_column}
),

excepted as (
    select
        object_id as item_id,
        count(*) as exception_rows,
        max(amount_minor) as amount_minor
    from $marts.fct_reconciliation_exceptions
    where side = '{item.side}'
    group by object_id
),

accounted as (
    select
        items.item_id,
        items.currency,
        items.amount_minor,
        matched.amount_minor as matched_minor,
        excepted.amount_minor as excepted_minor,
        case
            when matched.item_id is not null then abs(matched.amount_minor)
            else abs(excepted.amount_minor)
        end as accounted_minor
    from items
    left join matched
        on items.item_id = matched.item_id
    left join excepted
        on items.item_id = excepted.item_id
)

select
    cast(item_id as varchar) as object_id,
    currency,
    amount_minor,
    abs(amount_minor) - coalesce(accounted_minor, 0) as at_stake_minor,
    case
        when matched_minor is null and excepted_minor is null
            then 'neither matched nor an exception'
        when matched_minor is not null
            then 'matched ' || cast(matched_minor as varchar) || ', raw ' || cast(amount_minor as varchar)
        else 'excepted ' || cast(excepted_minor as varchar) || ', raw ' || cast(amount_minor as varchar)
    end as detail
from accounted
where accounted_minor is null
    or accounted_minor <> abs(amount_minor)
""",
    )


def _mart_invariants() -> list[Invariant]:
    checks = [_conservation(item) for item in _ITEM_CLASSES]
    checks.append(
        Invariant(
            name="Stripe object matched at most once per match type",
            suite="marts",
            schema="marts",
            table="fct_reconciliation_matches",
            description=(
                "A Stripe object has one match row per match type, unless every one of its rows "
                "comes from a rule that allows a split (`allows_split`) or was confirmed by a person; "
                "the same pair never repeats (docs/contract.md section 6)."
            ),
            needs_marts=True,
            body="""
with

live as (
    select * from {batch} as batch_rows
    where status <> 'rejected'
),

objects as (
    select
        match_type,
        stripe_object_id,
        min(currency) as currency,
        count(*) as match_rows,
        sum(stripe_amount_minor) as amount_minor,
        sum(case when allows_split or status = 'confirmed' then 0 else 1 end)
            as rows_not_split
    from live
    group by match_type, stripe_object_id
),

pairs as (
    select
        match_type,
        stripe_object_id,
        min(currency) as currency,
        count(*) as pair_rows,
        sum(stripe_amount_minor) as amount_minor,
        coalesce(erp_document_number, '') || '/' || coalesce(erp_payment_number, '') || '/'
            || coalesce(erp_journal_number, '') as erp_key
    from live
    group by
        match_type, stripe_object_id,
        coalesce(erp_document_number, '') || '/' || coalesce(erp_payment_number, '') || '/'
            || coalesce(erp_journal_number, '')
)

select
    cast(stripe_object_id as varchar) as object_id,
    currency,
    amount_minor,
    amount_minor as at_stake_minor,
    match_type || ': matched ' || cast(match_rows as varchar) || ' times, '
        || cast(rows_not_split as varchar) || ' row(s) not from a split rule' as detail
from objects
where match_rows > 1 and rows_not_split > 0
union all
select
    cast(stripe_object_id as varchar) as object_id,
    currency,
    amount_minor,
    amount_minor as at_stake_minor,
    match_type || ': the pair with ' || erp_key || ' repeats ' || cast(pair_rows as varchar) || ' times'
        as detail
from pairs
where pair_rows > 1
""",
        )
    )
    checks.append(
        Invariant(
            name="no match both confirmed and rejected",
            suite="marts",
            schema="marts",
            table="fct_reconciliation_matches",
            description=(
                "No pair is both confirmed and rejected: not in the matches mart, and not against "
                "the team's decisions (a rejected pair is `rejected` or absent; a confirmed one is "
                "never `rejected`)."
            ),
            requires=("raw_decisions.match_decisions",),
            needs_marts=True,
            body="""
with

pairs as (
    select
        match_type,
        stripe_object_id,
        min(currency) as currency,
        min(stripe_amount_minor) as amount_minor,
        coalesce(erp_document_number, '') || '/' || coalesce(erp_payment_number, '') || '/'
            || coalesce(erp_journal_number, '') as erp_key
    from {batch} as batch_rows
    group by
        match_type, stripe_object_id,
        coalesce(erp_document_number, '') || '/' || coalesce(erp_payment_number, '') || '/'
            || coalesce(erp_journal_number, '')
    having sum(case when status = 'confirmed' then 1 else 0 end) > 0
        and sum(case when status = 'rejected' then 1 else 0 end) > 0
),

decisions as (
    select
        stripe_object_id,
        nullif(trim(erp_document_number), '') as erp_document_number,
        nullif(trim(erp_payment_number), '') as erp_payment_number,
        nullif(trim(erp_journal_number), '') as erp_journal_number,
        lower(trim(decision)) as decision
    from $raw_decisions.match_decisions
),

against_decisions as (
    select
        matches.stripe_object_id,
        matches.currency,
        matches.stripe_amount_minor,
        matches.status,
        decisions.decision,
        coalesce(matches.erp_document_number, '') || '/' || coalesce(matches.erp_payment_number, '')
            || '/' || coalesce(matches.erp_journal_number, '') as erp_key
    from {batch} as matches
    inner join decisions
        on matches.stripe_object_id = decisions.stripe_object_id
        and (decisions.erp_document_number is null
            or decisions.erp_document_number = matches.erp_document_number)
        and (decisions.erp_payment_number is null
            or decisions.erp_payment_number = matches.erp_payment_number)
        and (decisions.erp_journal_number is null
            or decisions.erp_journal_number = matches.erp_journal_number)
    where (decisions.decision = 'rejected' and matches.status <> 'rejected')
        or (decisions.decision = 'confirmed' and matches.status = 'rejected')
)

select
    cast(stripe_object_id as varchar) as object_id,
    currency,
    amount_minor,
    amount_minor as at_stake_minor,
    match_type || ': the pair with ' || erp_key || ' is both confirmed and rejected' as detail
from pairs
union all
select
    cast(stripe_object_id as varchar) as object_id,
    currency,
    stripe_amount_minor as amount_minor,
    stripe_amount_minor as at_stake_minor,
    'the team ' || decision || ' the pair with ' || erp_key || ', the mart says ' || status as detail
from against_decisions
""",
        )
    )
    checks.append(
        Invariant(
            name="payout rollup: payout = invoices' net + other items",
            suite="marts",
            schema="marts",
            table="rpt_payout_reconciliation",
            description=(
                "Each paid payout's amount equals the sum of its rpt_payout_invoices net plus the "
                "net of the items no invoice explains; and equals its own items in "
                "rpt_payout_reconciliation (charges + refunds + disputes + other - fees)."
            ),
            requires=(
                "marts.rpt_payout_invoices",
                "raw_stripe.payouts",
                "raw_stripe.payout_balance_transactions",
                "raw_stripe.balance_transactions",
            ),
            needs_marts=True,
            body="""
with

invoices as (
    select
        payout_id,
        stripe_object_id,
        sum(net_minor) as net_minor
    from $marts.rpt_payout_invoices
    group by payout_id, stripe_object_id
),

invoice_totals as (
    select
        payout_id,
        count(*) as object_count,
        sum(net_minor) as net_minor
    from invoices
    group by payout_id
),

composition as (
    select
        settled.payout_id,
        transactions.source,
        transactions.net
    from $raw_stripe.payout_balance_transactions as settled
    inner join $raw_stripe.balance_transactions as transactions
        on settled.balance_transaction_id = transactions.id
    inner join $raw_stripe.payouts as own
        on settled.payout_id = own.id
    where transactions.id <> coalesce(own.balance_transaction, '')
        and not (transactions.type = 'payout' and transactions.source = own.id)
),

unexplained as (
    select
        composition.payout_id,
        sum(composition.net) as net_minor
    from composition
    left join invoices
        on composition.payout_id = invoices.payout_id
        and composition.source = invoices.stripe_object_id
    where invoices.stripe_object_id is null
    group by composition.payout_id
),

rolled_up as (
    select
        report.payout_id,
        report.currency,
        report.payout_amount_minor,
        coalesce(invoice_totals.net_minor, 0) as invoices_net_minor,
        coalesce(invoice_totals.object_count, 0) as invoice_objects,
        coalesce(unexplained.net_minor, 0) as other_net_minor,
        report.charges_gross_minor + report.refunds_minor + report.disputes_minor
            + report.other_minor - report.fees_minor as items_minor
    from {batch} as report
    left join invoice_totals
        on report.payout_id = invoice_totals.payout_id
    left join unexplained
        on report.payout_id = unexplained.payout_id
    where report.status in ('reconciled', 'variance', 'missing_deposit')
)

select
    cast(payout_id as varchar) as object_id,
    currency,
    payout_amount_minor as amount_minor,
    case
        when payout_amount_minor <> invoices_net_minor + other_net_minor
            then payout_amount_minor - invoices_net_minor - other_net_minor
        else payout_amount_minor - items_minor
    end as at_stake_minor,
    case
        when payout_amount_minor <> invoices_net_minor + other_net_minor
            then 'payout ' || cast(payout_amount_minor as varchar) || ' <> invoices'' net '
                || cast(invoices_net_minor as varchar) || ' (' || cast(invoice_objects as varchar)
                || ' charges and refunds) + other items'' net ' || cast(other_net_minor as varchar)
        else 'payout ' || cast(payout_amount_minor as varchar)
            || ' <> charges + refunds + disputes + other - fees = ' || cast(items_minor as varchar)
    end as detail
from rolled_up
where payout_amount_minor <> invoices_net_minor + other_net_minor
    or payout_amount_minor <> items_minor
""",
        )
    )
    return checks


INVARIANTS: Final[tuple[Invariant, ...]] = (*_raw_invariants(), *_mart_invariants())
