{#-
    One row per Stripe balance transaction, with the object that caused it (charge, refund,
    dispute, payout) and, for refunds and disputes, the charge behind them.
-#}
with

balance_transactions as (
    select * from {{ ref('stg_stripe__balance_transactions') }}
),

charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

refunds as (
    select * from {{ ref('stg_stripe__refunds') }}
),

disputes as (
    select * from {{ ref('stg_stripe__disputes') }}
),

joined as (
    select
        balance_transactions.*,
        case
            when charges.charge_id is not null then 'charge'
            when refunds.refund_id is not null then 'refund'
            when disputes.dispute_id is not null then 'dispute'
            when balance_transactions.transaction_type like 'payout%' then 'payout'
            else 'other'
        end as source_type,
        coalesce(charges.charge_id, refunds.charge_id, disputes.charge_id) as charge_id,
        coalesce(charges.currency, refunds.currency, disputes.currency) as source_currency,
        coalesce(charges.amount_minor, refunds.amount_minor, disputes.amount_minor)
            as source_amount_minor
    from balance_transactions
    left join charges
        on balance_transactions.source_id = charges.charge_id
    left join refunds
        on balance_transactions.source_id = refunds.refund_id
    left join disputes
        on balance_transactions.source_id = disputes.dispute_id
)

select * from joined
