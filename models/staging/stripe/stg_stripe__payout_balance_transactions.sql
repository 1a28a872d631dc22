with

source as (
    select * from {{ source('stripe', 'payout_balance_transactions') }}
),

renamed as (
    select
        payout_id,
        balance_transaction_id
    from source
)

select * from renamed
