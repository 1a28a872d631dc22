with

source as (
    select * from {{ source('erp', 'payments') }}
),

renamed as (
    select
        payment_number,
        nullif(trim(document_number), '') as document_number,
        payment_date,
        lower(currency) as currency,
        {{ to_minor_units('amount', 'currency') }} as amount_minor,
        lower(payment_method) as payment_method,
        coalesce(lower(payment_method) = 'stripe', false) as is_stripe_payment,
        nullif(trim(memo), '') as memo,
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at
    from source
)

select * from renamed
