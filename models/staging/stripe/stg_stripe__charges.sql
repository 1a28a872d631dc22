with

source as (
    select * from {{ source('stripe', 'charges') }}
),

renamed as (
    select
        id as charge_id,
        payment_intent as payment_intent_id,
        customer as customer_id,
        balance_transaction as balance_transaction_id,
        failure_balance_transaction as failure_balance_transaction_id,
        invoice as stripe_invoice_id,
        dispute as dispute_id,
        lower(currency) as currency,
        cast(amount as {{ dbt.type_bigint() }}) as amount_minor,
        cast(coalesce(amount_refunded, 0) as {{ dbt.type_bigint() }}) as amount_refunded_minor,
        status,
        status = 'succeeded' as is_succeeded,
        -- a bank debit that succeeded and was returned later: Stripe reversed its balance
        -- transaction with a `payment_failure_refund` (a card declined at once never had one)
        coalesce(status = 'failed' and failure_balance_transaction is not null, false)
            as has_failed_after_success,
        lower(payment_method_details__type) as payment_method_type,
        coalesce(refunded, false) as is_refunded,
        coalesce(disputed, false) as is_disputed,
        failure_code,
        description,
        metadata,
        {{ json_text('metadata', 'invoice_number') }} as metadata_invoice_number,
        {{ json_text('metadata', 'order_id') }} as metadata_order_id,
        lower(coalesce(billing_details__email, receipt_email)) as customer_email,
        billing_details__name as customer_name,
        {{ unix_to_timestamp('created') }} as created_at,
        cast({{ unix_to_timestamp('created') }} as date) as created_date,
        {{ unix_to_timestamp('_observed_at / 1000') }} as observed_at
    from source
)

select * from renamed
