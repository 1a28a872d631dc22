with

source as (
    select * from {{ source('erp', 'invoices') }}
),

renamed as (
    select
        document_number,
        lower(document_type) as document_type,
        customer_number,
        customer_name,
        lower(trim(customer_email)) as customer_email,
        document_date,
        due_date,
        lower(currency) as currency,
        {{ to_minor_units('amount', 'currency') }} as amount_minor,
        lower(coalesce(status, 'open')) as status,
        nullif(trim(external_reference), '') as external_reference,
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at
    from source
)

select * from renamed
