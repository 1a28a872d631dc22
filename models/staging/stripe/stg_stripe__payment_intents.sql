with

source as (
    select * from {{ source('stripe', 'payment_intents') }}
),

renamed as (
    select
        id as payment_intent_id,
        latest_charge as latest_charge_id,
        customer as customer_id,
        invoice as stripe_invoice_id,
        lower(currency) as currency,
        cast(amount as {{ dbt.type_bigint() }}) as amount_minor,
        status,
        {{ unix_to_timestamp('created') }} as created_at
    from source
)

select * from renamed
