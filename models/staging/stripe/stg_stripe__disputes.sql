with

source as (
    select * from {{ source('stripe', 'disputes') }}
),

renamed as (
    select
        id as dispute_id,
        charge as charge_id,
        payment_intent as payment_intent_id,
        lower(currency) as currency,
        cast(amount as {{ dbt.type_bigint() }}) as amount_minor,
        status,
        status = 'won' as is_won,
        reason,
        {{ unix_to_timestamp('created') }} as created_at,
        cast({{ unix_to_timestamp('created') }} as date) as created_date
    from source
)

select * from renamed
