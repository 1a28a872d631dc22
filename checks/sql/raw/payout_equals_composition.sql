{#-
    Every paid automatic payout equals the sum of net of the balance transactions it settled, its
    own payout transaction left out (docs/contract.md section 6).
-#}
with

composition as (
    select
        settled.payout_id,
        count(*) as transaction_count,
        sum(transactions.net) as net_minor
    from {{ raw_stripe }}.payout_balance_transactions as settled
    inner join {{ raw_stripe }}.balance_transactions as transactions
        on settled.balance_transaction_id = transactions.id
    inner join {{ raw_stripe }}.payouts as own
        on settled.payout_id = own.id
    where
        transactions.id <> coalesce(own.balance_transaction, '')
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
from {{ batch }} as payouts
left join composition
    on payouts.id = composition.payout_id
where
    payouts.status = 'paid'
    and payouts.automatic = true
    and payouts.amount <> coalesce(composition.net_minor, 0)
