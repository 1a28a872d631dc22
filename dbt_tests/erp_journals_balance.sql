{#-
    Every ERP journal balances, per currency: debits = credits (docs/contract.md section 6). An
    unbalanced journal is the books' own state (a line refused by the load, a keying error), so
    it warns and lands in rpt_data_quality_issues (`journal_unbalanced`); `recon check` holds
    the invariant on the raw books and fails the run, naming the journals.
-#}
{{ config(severity='warn') }}

with

lines as (
    select * from {{ ref('stg_erp__gl_entries') }}
),

unbalanced as (
    select
        journal_number,
        currency,
        sum(debit_minor) as debit_minor,
        sum(credit_minor) as credit_minor
    from lines
    group by journal_number, currency
    having sum(debit_minor) <> sum(credit_minor)
)

select * from unbalanced
