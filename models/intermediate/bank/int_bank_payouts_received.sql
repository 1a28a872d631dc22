{#-
    One row per Stripe payout: what the bank statements show of it. bank_credit_minor: the
    credits naming or matching it (a payout split in two lines adds up); bank_debit_minor: what
    went back out (a returned payout); bank_status: `received` (the bank's net equals the payout),
    `fee_taken` (less arrived: a bank fee), `over_received` (more arrived), `returned` (credited
    then sent back, or only a return seen), `not_received` (a statement of its currency covers the
    arrival window and shows nothing of it), `no_statement` (no statement covers it).
-#}
with

payouts as (
    select * from {{ ref('stg_stripe__payouts') }}
),

lines as (
    select * from {{ ref('int_bank_lines_matched') }}
    where payout_id is not null
),

statements as (
    select * from {{ ref('stg_bank__statements') }}
),

coverage as (
    select
        currency,
        min(from_date) as covered_from,
        max(to_date) as covered_to
    from statements
    group by currency
),

lines_summed as (
    select
        payout_id,
        count(*) as bank_line_count,
        sum(case when amount_minor > 0 then amount_minor else 0 end) as bank_credit_minor,
        sum(case when amount_minor < 0 then amount_minor else 0 end) as bank_debit_minor,
        min(value_date) as bank_value_date
    from lines
    group by payout_id
),

final as (
    select
        payouts.payout_id,
        payouts.currency,
        payouts.amount_minor as payout_amount_minor,
        payouts.status as stripe_status,
        payouts.arrival_date,
        cast(coalesce(lines_summed.bank_line_count, 0) as {{ dbt.type_bigint() }}) as bank_line_count,
        cast(coalesce(lines_summed.bank_credit_minor, 0) as {{ dbt.type_bigint() }}) as bank_credit_minor,
        cast(coalesce(lines_summed.bank_debit_minor, 0) as {{ dbt.type_bigint() }}) as bank_debit_minor,
        cast(
            coalesce(lines_summed.bank_credit_minor, 0) + coalesce(lines_summed.bank_debit_minor, 0)
            as {{ dbt.type_bigint() }}
        ) as bank_amount_minor,
        lines_summed.bank_value_date,
        case
            when lines_summed.bank_debit_minor < 0
                and lines_summed.bank_credit_minor + lines_summed.bank_debit_minor <= 0 then 'returned'
            when lines_summed.bank_credit_minor = payouts.amount_minor then 'received'
            when lines_summed.bank_credit_minor > 0
                and lines_summed.bank_credit_minor < payouts.amount_minor then 'fee_taken'
            when lines_summed.bank_credit_minor > payouts.amount_minor then 'over_received'
            when coverage.currency is not null
                and payouts.arrival_date >= coverage.covered_from
                and {{ dbt.dateadd('day', var('payout_bank_days_after'), 'payouts.arrival_date') }}
                <= coverage.covered_to then 'not_received'
            else 'no_statement'
        end as bank_status
    from payouts
    left join lines_summed
        on payouts.payout_id = lines_summed.payout_id
    left join coverage
        on payouts.currency = coverage.currency
)

select * from final
