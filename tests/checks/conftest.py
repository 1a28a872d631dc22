"""A small, correct warehouse (raw tables and the contract's marts), and ways to break it.

The world, in USD: two succeeded charges (10.00 and 20.00) and a failed one, a 5.00 refund, one
paid automatic payout of 23.53 settling them (fees 0.59 and 0.88), its bank deposit JE-1, a
wire deposit JE-2, and an ERP Stripe payment PMT-5 with no Stripe charge (an exception). Of what
dbt builds, the marts and the one intermediate model a check reads (which deposits are Stripe's).
The SQL is portable, so the same world loads into DuckDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import recon  # noqa: F401  # before Great Expectations: analytics off

SCHEMAS = ("raw_stripe", "raw_erp", "raw_decisions", "intermediate", "marts")
BUILT = ("intermediate", "marts")  # by dbt: absent from a warehouse without marts

WORLD_SQL = [
    """create table raw_stripe.balance_transactions (
        id varchar, amount bigint, fee bigint, net bigint, currency varchar, type varchar,
        status varchar, source varchar, created bigint)""",
    """insert into raw_stripe.balance_transactions values
        ('txn_ch1', 1000, 59, 941, 'usd', 'charge', 'available', 'ch_1', 1700000000),
        ('txn_ch2', 2000, 88, 1912, 'usd', 'charge', 'available', 'ch_2', 1700000100),
        ('txn_re1', -500, 0, -500, 'usd', 'refund', 'available', 're_1', 1700000200),
        ('txn_po1', -2353, 0, -2353, 'usd', 'payout', 'available', 'po_1', 1700000300)""",
    "create table raw_stripe.charges (id varchar, amount bigint, currency varchar, status varchar, created bigint)",
    """insert into raw_stripe.charges values
        ('ch_1', 1000, 'usd', 'succeeded', 1700000000),
        ('ch_2', 2000, 'usd', 'succeeded', 1700000100),
        ('ch_3', 700, 'usd', 'failed', 1700000150)""",
    "create table raw_stripe.refunds (id varchar, amount bigint, currency varchar, status varchar, charge varchar, created bigint)",
    "insert into raw_stripe.refunds values ('re_1', 500, 'usd', 'succeeded', 'ch_1', 1700000200)",
    """create table raw_stripe.payouts (
        id varchar, amount bigint, currency varchar, status varchar, automatic boolean,
        arrival_date bigint, created bigint, balance_transaction varchar)""",
    "insert into raw_stripe.payouts values ('po_1', 2353, 'usd', 'paid', true, 1700100000, 1700000300, 'txn_po1')",
    "create table raw_stripe.payout_balance_transactions (payout_id varchar, balance_transaction_id varchar)",
    """insert into raw_stripe.payout_balance_transactions values
        ('po_1', 'txn_ch1'), ('po_1', 'txn_ch2'), ('po_1', 'txn_re1'), ('po_1', 'txn_po1')""",
    """create table raw_erp.invoices (
        document_number varchar, document_type varchar, customer_number varchar, document_date date,
        currency varchar, amount decimal(38, 3))""",
    """insert into raw_erp.invoices values
        ('INV-1', 'invoice', 'C1', date '2023-11-14', 'USD', 10.00),
        ('INV-2', 'invoice', 'C2', date '2023-11-14', 'usd', 20.00),
        ('CM-1', 'credit_memo', 'C1', date '2023-11-15', 'usd', 5.00)""",
    """create table raw_erp.payments (
        payment_number varchar, document_number varchar, payment_date date, currency varchar,
        amount decimal(38, 3), payment_method varchar, memo varchar)""",
    """insert into raw_erp.payments values
        ('PMT-1', 'INV-1', date '2023-11-14', 'usd', 10.00, 'stripe', null),
        ('PMT-2', 'INV-2', date '2023-11-14', 'usd', 20.00, 'Stripe', 'ch_2'),
        ('PMT-3', 'CM-1', date '2023-11-15', 'usd', -5.00, 'STRIPE', null),
        ('PMT-4', null, date '2023-11-16', 'usd', 30.00, 'wire', null),
        ('PMT-5', null, date '2023-11-16', 'usd', 7.00, 'stripe', 'no such charge')""",
    """create table raw_erp.gl_entries (
        journal_number varchar, line_number varchar, posting_date date, account_number varchar,
        debit decimal(38, 3), credit decimal(38, 3), currency varchar, memo varchar)""",
    """insert into raw_erp.gl_entries values
        ('JE-1', '1', date '2023-11-17', '1000', 23.53, 0, 'usd', 'STRIPE PAYOUT po_1'),
        ('JE-1', '2', date '2023-11-17', '1150', 0, 23.53, 'usd', 'STRIPE PAYOUT po_1'),
        ('JE-2', '1', date '2023-11-16', '1000', 30.00, 0, 'usd', 'WIRE ACME'),
        ('JE-2', '2', date '2023-11-16', '1200', 0, 30.00, 'usd', 'WIRE ACME')""",
    "create table raw_erp.gl_accounts (account_number varchar, role varchar)",
    "insert into raw_erp.gl_accounts values ('1000', 'bank')",
    """create table raw_erp.quarantine (
        quarantine_id varchar, table_name varchar, source varchar, line bigint, raw varchar, reason varchar)""",
    "insert into raw_erp.quarantine values ('q1', 'payments', 'payments.csv', 7, 'PMT-9,,x', 'amount: bad')",
    """create table raw_decisions.match_decisions (
        stripe_object_id varchar, erp_document_number varchar, erp_payment_number varchar,
        erp_journal_number varchar, decision varchar)""",
    """insert into raw_decisions.match_decisions values
        ('ch_1', 'INV-1', 'PMT-1', null, 'confirmed'),
        ('ch_2', 'INV-9', null, null, 'rejected')""",
    """create table intermediate.int_gl_deposits_identified (
        journal_number varchar, currency varchar, posting_date date, deposit_amount_minor bigint,
        memo varchar, memo_payout_id varchar, is_stripe_memo boolean, is_stripe_deposit boolean)""",
    """insert into intermediate.int_gl_deposits_identified values
        ('JE-1', 'usd', date '2023-11-17', 2353, 'STRIPE PAYOUT po_1', 'PO_1', true, true),
        ('JE-2', 'usd', date '2023-11-16', 3000, 'WIRE ACME', null, false, false)""",
    """create table marts.fct_reconciliation_matches (
        match_id varchar, match_type varchar, stripe_object_id varchar, erp_document_number varchar,
        erp_payment_number varchar, erp_journal_number varchar, rule_name varchar,
        confidence decimal(5, 4), status varchar, currency varchar, stripe_amount_minor bigint,
        erp_amount_minor bigint, difference_minor bigint, allows_split boolean)""",
    """insert into marts.fct_reconciliation_matches values
        ('m1', 'charge_payment', 'ch_1', 'INV-1', 'PMT-1', null, 'human_decision', 1, 'confirmed', 'usd', 1000, 1000, 0, false),
        ('m2', 'charge_payment', 'ch_2', 'INV-2', 'PMT-2', null, 'match_charge_id_in_erp', 0.99, 'auto_matched', 'usd', 2000, 2000, 0, true),
        ('m3', 'refund_payment', 're_1', 'CM-1', 'PMT-3', null, 'match_refund_to_credit_memo', 0.95, 'auto_matched', 'usd', 500, 500, 0, false),
        ('m4', 'payout_deposit', 'po_1', null, null, 'JE-1', 'match_payout_to_deposit', 0.95, 'auto_matched', 'usd', 2353, 2353, 0, false)""",
    """create table marts.fct_reconciliation_exceptions (
        exception_id varchar, object_id varchar, side varchar, exception_type varchar,
        disposition varchar, confidence decimal(5, 4), requires_review boolean, currency varchar,
        amount_minor bigint)""",
    """insert into marts.fct_reconciliation_exceptions values
        ('e1', 'PMT-5', 'erp', 'missing_in_stripe', 'true_exception', 0.75, true, 'usd', 700)""",
    """create table marts.rpt_payout_reconciliation (
        payout_id varchar, arrival_date date, currency varchar, payout_amount_minor bigint,
        charges_gross_minor bigint, refunds_minor bigint, disputes_minor bigint, fees_minor bigint,
        other_minor bigint, invoice_count bigint, erp_journal_number varchar,
        erp_deposit_amount_minor bigint, unexplained_minor bigint, status varchar,
        failed_debits_minor bigint)""",
    """insert into marts.rpt_payout_reconciliation values
        ('po_1', date '2023-11-16', 'usd', 2353, 3000, -500, 0, 147, 0, 3, 'JE-1', 2353, 0, 'reconciled', 0)""",
    """create table marts.rpt_payout_invoices (
        payout_id varchar, erp_document_number varchar, stripe_object_id varchar, currency varchar,
        gross_minor bigint, fee_minor bigint, net_minor bigint)""",
    """insert into marts.rpt_payout_invoices values
        ('po_1', 'INV-1', 'ch_1', 'usd', 1000, 59, 941),
        ('po_1', 'INV-2', 'ch_2', 'usd', 2000, 88, 1912),
        ('po_1', 'CM-1', 're_1', 'usd', -500, 0, -500)""",
]


def world_statements(prefix: str = "", *, marts: bool = True) -> list[str]:
    statements = [f"create schema {prefix}{s}" for s in SCHEMAS if marts or s not in BUILT]
    for sql in WORLD_SQL:
        if not marts and any(f" {schema}." in sql for schema in BUILT):
            continue
        for schema in SCHEMAS:
            sql = sql.replace(f" {schema}.", f" {prefix}{schema}.")
        statements.append(sql)
    return statements


def prefixed(sql: str, prefix: str) -> str:
    for schema in SCHEMAS:
        sql = sql.replace(f" {schema}.", f" {prefix}{schema}.")
    return sql


@pytest.fixture(scope="session", autouse=True)
def gx_imported() -> None:
    """Great Expectations takes seconds to import: once for the whole folder."""
    import great_expectations  # noqa: F401


@pytest.fixture
def make_warehouse(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """make_warehouse(*break_sql, marts=True) -> a DuckDB file with the world, then the breakage."""
    import duckdb

    def make(*breakage: str, marts: bool = True, name: str = "w.duckdb") -> Path:
        path = tmp_path / name
        with duckdb.connect(str(path)) as con:
            for sql in [*world_statements(marts=marts), *breakage]:
                con.execute(sql)
        return path

    yield make
