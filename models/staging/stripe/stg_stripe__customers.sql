with

source as (
    select * from {{ source('stripe', 'customers') }}
),

renamed as (
    select
        id as customer_id,
        lower(email) as customer_email,
        name as customer_name,
        lower(currency) as currency,
        metadata,
        {{ json_text('metadata', 'erp_customer_number') }} as erp_customer_number,
        {{ unix_to_timestamp('created') }} as created_at
    from source
)

select * from renamed
