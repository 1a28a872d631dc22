with

source as (
    select * from {{ source('stripe', 'balance_transactions') }}
),

renamed as (
    select
        id as balance_transaction_id,
        source as source_id,
        type as transaction_type,
        -- Stripe leaves reporting_category empty on some older transactions: derive it from
        -- the type as Stripe's reporting documentation maps them.
        coalesce(
            nullif(reporting_category, ''),
            case type
                when 'charge' then 'charge'
                when 'payment' then 'charge'
                when 'refund' then 'refund'
                when 'payment_refund' then 'refund'
                when 'payment_failure_refund' then 'charge_failure'
                when 'refund_failure' then 'refund_failure'
                when 'adjustment' then 'dispute'
                when 'payout' then 'payout'
                when 'payout_cancel' then 'payout_reversal'
                when 'payout_failure' then 'payout_reversal'
                when 'stripe_fee' then 'fee'
                when 'application_fee' then 'platform_earning'
                when 'transfer' then 'transfer'
                else 'other_adjustment'
            end
        ) as reporting_category,
        lower(currency) as currency,
        cast(amount as {{ dbt.type_bigint() }}) as amount_minor,
        cast(fee as {{ dbt.type_bigint() }}) as fee_minor,
        cast(net as {{ dbt.type_bigint() }}) as net_minor,
        exchange_rate,
        status,
        description,
        {{ unix_to_timestamp('created') }} as created_at,
        cast({{ unix_to_timestamp('created') }} as date) as created_date,
        {{ unix_to_timestamp('available_on') }} as available_at,
        cast({{ unix_to_timestamp('available_on') }} as date) as available_date
    from source
)

select * from renamed
