with

source as (
    select * from {{ source('stripe', 'invoices') }}
),

renamed as (
    select
        id as stripe_invoice_id,
        number as invoice_number,
        charge as charge_id,
        payment_intent as payment_intent_id,
        customer as customer_id,
        lower(customer_email) as customer_email,
        customer_name,
        lower(currency) as currency,
        cast(total as {{ dbt.type_bigint() }}) as total_minor,
        cast(amount_paid as {{ dbt.type_bigint() }}) as amount_paid_minor,
        status,
        description,
        metadata,
        {{ json_text('metadata', 'erp_document_number') }} as metadata_erp_document_number,
        {{ unix_to_timestamp('created') }} as created_at,
        cast({{ unix_to_timestamp('created') }} as date) as created_date
    from source
)

select * from renamed
