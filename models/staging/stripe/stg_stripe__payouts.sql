with

source as (
    select * from {{ source('stripe', 'payouts') }}
),

renamed as (
    select
        id as payout_id,
        balance_transaction as balance_transaction_id,
        failure_balance_transaction as failure_balance_transaction_id,
        lower(currency) as currency,
        cast(amount as {{ dbt.type_bigint() }}) as amount_minor,
        status,
        coalesce(automatic, true) as is_automatic,
        failure_code,
        failure_message,
        method,
        description,
        destination as destination_id,
        statement_descriptor,
        {{ json_text('trace_id', 'value') }} as trace_id,
        {{ unix_to_timestamp('created') }} as created_at,
        cast({{ unix_to_timestamp('created') }} as date) as created_date,
        {{ unix_to_timestamp('arrival_date') }} as arrival_at,
        cast({{ unix_to_timestamp('arrival_date') }} as date) as arrival_date
    from source
)

select * from renamed
