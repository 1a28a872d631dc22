with

source as (
    select * from {{ source('erp', 'gl_entries') }}
),

renamed as (
    select
        journal_number,
        line_number,
        posting_date,
        account_number,
        account_name,
        lower(currency) as currency,
        {{ to_minor_units('debit', 'currency') }} as debit_minor,
        {{ to_minor_units('credit', 'currency') }} as credit_minor,
        nullif(trim(memo), '') as memo,
        nullif(trim(document_number), '') as document_number,
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at
    from source
)

select * from renamed
