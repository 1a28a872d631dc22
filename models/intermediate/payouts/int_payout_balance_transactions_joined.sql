{#-
    One row per payout and balance transaction it settled (its own payout transaction left
    out), with the charge, refund, dispute or fee behind each.
-#}
with

composition as (
    select * from {{ ref('stg_stripe__payout_balance_transactions') }}
),

balance_transactions as (
    select * from {{ ref('int_balance_transactions_joined') }}
),

payouts as (
    select * from {{ ref('stg_stripe__payouts') }}
),

joined as (
    select
        composition.payout_id,
        balance_transactions.*
    from composition
    inner join balance_transactions
        on composition.balance_transaction_id = balance_transactions.balance_transaction_id
    inner join payouts
        on composition.payout_id = payouts.payout_id
    where balance_transactions.balance_transaction_id
        <> coalesce(payouts.balance_transaction_id, '')
)

select * from joined
