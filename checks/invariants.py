"""The checks: their metadata here, their SQL in checks/sql/, one `.sql` file a rule.

Each file is a query returning the rows that break its rule, with the same columns whatever
broke: `object_id` (the Stripe id, ERP number or key), `currency`, `amount_minor` (the object's
amount, in minor units of `currency`), `at_stake_minor` (how much is wrong: the difference, or
the whole amount when the object is unaccounted for) and `detail` (one sentence).
checks/rendering.py fills in the schemas, the currency seed and, for a rule checked on several
tables (keys unique, fields present, currency known), the columns in `params`.

Suites: `raw` holds the checks of the raw inputs and the invariants that need only them
(`amount - fee = net`, payouts equal to their composition, balanced journals); `marts` holds
the invariants that read what dbt built (conservation, each object matched once, decisions
kept, the payout rollup). The names are what a failure prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Suite = Literal["raw", "marts"]
SUITES: Final[tuple[Suite, ...]] = ("raw", "marts")

# Schemas dbt builds: a check reading one of them cannot run before `dbt build`.
BUILT_SCHEMAS: Final[tuple[str, ...]] = ("intermediate", "marts")


@dataclass(frozen=True)
class Invariant:
    """One check: its name, where it runs, and the SQL file of the rows that break it."""

    name: str
    suite: Suite
    schema: str  # raw_stripe, raw_erp, raw_decisions, intermediate or marts
    table: str  # the table `{{ batch }}` stands for
    description: str
    sql: str  # its file under checks/sql/
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)  # the file's columns
    requires: tuple[str, ...] = ()  # other tables ("schema.table"), besides its own
    optional: bool = False  # a missing table skips it (nothing to check) instead of failing the run
    severity: Literal["critical", "info"] = "critical"  # info: reported, never fails the run

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.relation, *self.requires)

    @property
    def needs_marts(self) -> bool:
        """True when it reads what dbt builds: it cannot run on raw tables alone."""
        return any(t.split(".", 1)[0] in BUILT_SCHEMAS for t in self.tables)


# --- raw inputs -------------------------------------------------------------------------------

# Columns every row must carry (docs/contract.md sections 2 and 3), and the money columns that
# must be whole numbers of minor units.
_STRIPE_TABLES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]]] = {
    # table: (required columns, money columns, optional table)
    "balance_transactions": (
        ("id", "amount", "fee", "net", "currency", "type", "status", "created"),
        ("amount", "fee", "net"),
        False,
    ),
    "charges": (("id", "amount", "currency", "status", "created"), ("amount",), False),
    "refunds": (("id", "amount", "currency", "status", "created"), ("amount",), True),
    "payouts": (
        ("id", "amount", "currency", "status", "arrival_date", "created"),
        ("amount",),
        False,
    ),
    "disputes": (("id", "amount", "currency", "charge", "status", "created"), ("amount",), True),
}
_STRIPE_ID_ONLY: Final[tuple[str, ...]] = ("payment_intents", "invoices", "customers")

_ERP_TABLES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    # table: (key columns, required columns, money columns in major units)
    "invoices": (
        ("document_number",),
        (
            "document_number",
            "document_type",
            "customer_number",
            "document_date",
            "currency",
            "amount",
        ),
        ("amount",),
    ),
    "payments": (
        ("payment_number",),
        ("payment_number", "payment_date", "currency", "amount"),
        ("amount",),
    ),
    "gl_entries": (
        ("journal_number", "line_number"),
        (
            "journal_number",
            "line_number",
            "posting_date",
            "account_number",
            "debit",
            "credit",
            "currency",
        ),
        ("debit", "credit"),
    ),
}


def _keys_unique(schema: str, table: str, optional: bool, **params: Any) -> Invariant:
    keys = ", ".join(params["keys"])
    return Invariant(
        name=f"{schema}.{table}: key {keys} unique and present",
        suite="raw",
        schema=schema,
        table=table,
        description=f"Every row of {schema}.{table} has a {keys} and no two rows share it.",
        sql="raw/key_unique.sql",
        params=params,
        optional=optional,
    )


def _stripe_fields(
    table: str, required: tuple[str, ...], money: tuple[str, ...], optional: bool
) -> Invariant:
    return Invariant(
        name=f"raw_stripe.{table}: required fields present, amounts whole minor units",
        suite="raw",
        schema="raw_stripe",
        table=table,
        description=(
            f"Every {table} row has {', '.join(required)}; {', '.join(money)} are whole numbers "
            "of minor units (Stripe sends integers)."
        ),
        sql="raw/stripe_fields_present.sql",
        params={"required": required, "money": money},
        optional=optional,
    )


def _currencies_known(schema: str, table: str, optional: bool, **params: Any) -> Invariant:
    return Invariant(
        name=f"{schema}.{table}: currency known",
        suite="raw",
        schema=schema,
        table=table,
        description=f"Every {schema}.{table} row's currency is in the seed seeds/currencies.csv.",
        sql="raw/currency_known.sql",
        params=params,
        optional=optional,
    )


def _erp_fields(
    table: str, keys: tuple[str, ...], required: tuple[str, ...], money: tuple[str, ...]
) -> Invariant:
    no_negative = table == "gl_entries"
    return Invariant(
        name=f"raw_erp.{table}: required fields present, amounts exact in minor units",
        suite="raw",
        schema="raw_erp",
        table=table,
        description=(
            f"Every ERP {table} row has {', '.join(required)}; {', '.join(money)} convert exactly "
            "to minor units of the row's currency"
            + (" and are not negative." if no_negative else ".")
        ),
        sql="raw/erp_fields_present.sql",
        params={"keys": keys, "required": required, "money": money, "no_negative": no_negative},
    )


def _quarantine(schema: str) -> list[Invariant]:
    return [
        Invariant(
            name=f"{schema}.quarantine: every bad row names its file, line and reason",
            suite="raw",
            schema=schema,
            table="quarantine",
            description="A quarantined row is never silent: it carries its source, line and reason.",
            sql="raw/quarantine_rows_named.sql",
            optional=True,
        ),
        Invariant(
            name=f"{schema}.quarantine: rows counted",
            suite="raw",
            schema=schema,
            table="quarantine",
            description="How many input rows were quarantined, by table and reason (reported, not a failure).",
            sql="raw/quarantine_rows_counted.sql",
            optional=True,
            severity="info",
        ),
    ]


def _raw_invariants() -> list[Invariant]:
    checks: list[Invariant] = []
    for table, (required, money, optional) in _STRIPE_TABLES.items():
        checks.append(
            _keys_unique(
                "raw_stripe",
                table,
                optional,
                keys=("id",),
                amount_column="amount",
                currency_column="currency",
            )
        )
        checks.append(_stripe_fields(table, required, money, optional))
        checks.append(
            _currencies_known("raw_stripe", table, optional, id_column="id", amount_column="amount")
        )
    for table in _STRIPE_ID_ONLY:
        checks.append(_keys_unique("raw_stripe", table, True, keys=("id",)))
    checks.append(
        _keys_unique(
            "raw_stripe",
            "payout_balance_transactions",
            False,
            keys=("payout_id", "balance_transaction_id"),
        )
    )
    for table, (keys, required, money) in _ERP_TABLES.items():
        # A duplicate or an unknown currency shows no amount: without a known exponent there is
        # no exact minor-unit amount to show.
        checks.append(_keys_unique("raw_erp", table, False, keys=keys, currency_column="currency"))
        checks.append(_erp_fields(table, keys, required, money))
        checks.append(_currencies_known("raw_erp", table, False, id_column=keys[0]))
    checks.append(
        _keys_unique(
            "raw_decisions",
            "match_decisions",
            True,
            keys=(
                "stripe_object_id",
                "erp_document_number",
                "erp_payment_number",
                "erp_journal_number",
            ),
            required=("stripe_object_id",),
        )
    )
    checks += _quarantine("raw_erp")
    checks += _quarantine("raw_decisions")
    checks += [
        Invariant(
            name="amount - fee = net",
            suite="raw",
            schema="raw_stripe",
            table="balance_transactions",
            description="Every Stripe balance transaction: amount - fee = net (docs/contract.md section 6).",
            sql="raw/amount_fee_net.sql",
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
            sql="raw/payout_equals_composition.sql",
            requires=("raw_stripe.payout_balance_transactions", "raw_stripe.balance_transactions"),
        ),
        Invariant(
            name="every ERP journal balances",
            suite="raw",
            schema="raw_erp",
            table="gl_entries",
            description="Every ERP journal: debits = credits, per journal and currency, in exact decimals.",
            sql="raw/journal_balances.sql",
        ),
    ]
    return checks


# --- marts ------------------------------------------------------------------------------------

_MART_TABLES: Final[tuple[str, ...]] = (
    "marts.fct_reconciliation_matches",
    "marts.fct_reconciliation_exceptions",
)

# The items that must each be matched or be an exception (docs/contract.md section 6): one
# conservation check each, (label, schema, table, SQL file).
_CONSERVED: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("succeeded Stripe charges", "raw_stripe", "charges", "marts/conservation_charges.sql"),
    ("Stripe refunds", "raw_stripe", "refunds", "marts/conservation_refunds.sql"),
    ("Stripe payouts", "raw_stripe", "payouts", "marts/conservation_payouts.sql"),
    ("ERP payments by Stripe", "raw_erp", "payments", "marts/conservation_erp_payments.sql"),
    (
        "ERP bank deposits of Stripe payouts",
        "intermediate",
        "int_gl_deposits_identified",
        "marts/conservation_deposits.sql",
    ),
)


def _mart_invariants() -> list[Invariant]:
    checks = [
        Invariant(
            name=f"conservation: {label}",
            suite="marts",
            schema=schema,
            table=table,
            description=(
                f"Every one of the {label} is matched or is an exception, and per currency the raw "
                "total equals the matched plus the excepted amount to the minor unit (docs/contract.md "
                "section 6). An item counts by its matched amount when matched (split rows summed), "
                "else by its exception's amount; amounts compare as magnitudes."
            ),
            sql=sql,
            requires=_MART_TABLES,
        )
        for label, schema, table, sql in _CONSERVED
    ]
    checks += [
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
            sql="marts/matched_once_per_type.sql",
        ),
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
            sql="marts/decisions_kept.sql",
            requires=("raw_decisions.match_decisions",),
        ),
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
            sql="marts/payout_rollup.sql",
            requires=(
                "marts.rpt_payout_invoices",
                "raw_stripe.payouts",
                "raw_stripe.payout_balance_transactions",
                "raw_stripe.balance_transactions",
            ),
        ),
    ]
    return checks


INVARIANTS: Final[tuple[Invariant, ...]] = (*_raw_invariants(), *_mart_invariants())
