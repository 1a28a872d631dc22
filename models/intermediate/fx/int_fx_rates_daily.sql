{#-
    One row per presentment currency and day: the exchange rate Stripe applied to convert it
    into the balance currency (from balance transactions' `exchange_rate`), averaged over the
    day's transactions. Used to tell an FX variance from an amount mismatch.
-#}
with

balance_transactions as (
    select * from {{ ref('int_balance_transactions_joined') }}
),

final as (
    select
        source_currency as currency,
        currency as settlement_currency,
        created_date as rate_date,
        avg(exchange_rate) as exchange_rate,
        count(*) as transaction_count
    from balance_transactions
    where exchange_rate is not null
        and source_currency is not null
    group by source_currency, currency, created_date
)

select * from final
