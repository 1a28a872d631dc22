with

source as (
    select * from {{ source('stripe', 'refunds') }}
),

renamed as (
    select
        id as refund_id,
        charge as charge_id,
        payment_intent as payment_intent_id,
        balance_transaction as balance_transaction_id,
        lower(currency) as currency,
        cast(amount as {{ dbt.type_bigint() }}) as amount_minor,
        status,
        reason,
        description,
        metadata,
        {{ unix_to_timestamp('created') }} as created_at,
        cast({{ unix_to_timestamp('created') }} as date) as created_date
    from source
)

select * from renamed
