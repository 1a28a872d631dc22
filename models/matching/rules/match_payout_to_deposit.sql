{#-
    Rule: a Stripe payout and its bank deposit in the ERP.

    What it matches: a paid payout and an ERP journal debiting a bank account, when the
    journal's memo names the payout id (in any case) or quotes its trace number; else when the
    deposit equals the payout amount in the payout's currency and is posted between var
    payout_deposit_days_before days before and var payout_deposit_days_after days after the
    payout's arrival date (a memo mentioning Stripe makes it more certain, and a journal that books
    the payout's own fees beside it, int_payouts_summarized's fees_minor, makes it the stronger
    pair: two payouts of one amount rarely carry one fee total). Of several payouts of one amount
    on adjacent days and no such evidence, the resolution gives each deposit to the closest
    payout still free (int_matches_resolved assigns in rounds, not first come).
    Why: banks post Stripe's transfer as one deposit of the exact payout amount, on or a few
    days after the arrival date, with "STRIPE" and the payout id or an ACH trace number in
    the memo, or nothing at all.
-#}
with

payouts as (
    select * from {{ ref('stg_stripe__payouts') }}
    where status = 'paid'
),

deposits as (
    select * from {{ ref('int_gl_deposits_identified') }}
),

summaries as (
    select * from {{ ref('int_payouts_summarized') }}
),

by_id as (
    select
        payouts.payout_id,
        deposits.journal_number,
        10 as priority,
        0.99 as confidence
    from payouts
    inner join deposits
        on upper(payouts.payout_id) = deposits.memo_payout_id
),

by_trace_number as (
    select
        payouts.payout_id,
        deposits.journal_number,
        10 as priority,
        0.97 as confidence
    from payouts
    inner join deposits
        on payouts.currency = deposits.currency
        and payouts.amount_minor = deposits.deposit_amount_minor
    where length(payouts.trace_id) >= 6
        and {{ dbt.position('payouts.trace_id', 'deposits.memo') }} > 0
),

by_amount_and_date as (
    select
        payouts.payout_id,
        deposits.journal_number,
        case when coalesce(deposits.fee_amount_minor = summaries.fees_minor, false) then 20 else 30 end as priority,
        case
            when coalesce(deposits.fee_amount_minor = summaries.fees_minor, false) then 0.97
            when deposits.is_stripe_memo then 0.93
            else 0.8
        end as confidence
    from payouts
    inner join deposits
        on payouts.currency = deposits.currency
        and payouts.amount_minor = deposits.deposit_amount_minor
    left join summaries
        on payouts.payout_id = summaries.payout_id
        and summaries.fees_minor > 0
    where (deposits.memo_payout_id is null or deposits.memo_payout_id = upper(payouts.payout_id))
        and deposits.posting_date
        between {{ dbt.dateadd('day', -var('payout_deposit_days_before'), 'payouts.arrival_date') }}
        and {{ dbt.dateadd('day', var('payout_deposit_days_after'), 'payouts.arrival_date') }}
),

pairs as (
    select * from by_id
    union all
    select * from by_trace_number
    union all
    select * from by_amount_and_date
),

final as (
    select
        payouts.payout_id as stripe_object_id,
        cast(null as {{ dbt.type_string() }}) as erp_document_number,
        cast(null as {{ dbt.type_string() }}) as erp_payment_number,
        deposits.journal_number as erp_journal_number,
        'payout_deposit' as match_type,
        'match_payout_to_deposit' as rule_name,
        pairs.priority,
        pairs.confidence,
        payouts.currency,
        payouts.amount_minor as stripe_amount_minor,
        deposits.currency as erp_currency,
        deposits.deposit_amount_minor as erp_amount_minor,
        {{ days_between('payouts.arrival_date', 'deposits.posting_date') }} as days_apart,
        false as allows_split
    from pairs
    inner join payouts
        on pairs.payout_id = payouts.payout_id
    inner join deposits
        on pairs.journal_number = deposits.journal_number
)

select * from final
