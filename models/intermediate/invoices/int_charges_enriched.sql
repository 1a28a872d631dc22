{#-
    One row per succeeded Stripe charge, and per charge that succeeded and failed later (a bank
    debit returned), with what it settled for in the balance currency (amount, fee, net, exchange
    rate), the Stripe invoice it paid, the customer's ERP number, and how its payment method
    moves money (seed payment_methods: the days until it is final, the fee its schedule asks).
-#}
{%- set scheduled_fee = integer_divide(
    'balance_transactions.amount_minor * payment_methods.fee_percent_bps + 5000', '10000'
) %}
with

charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

balance_transactions as (
    select * from {{ ref('stg_stripe__balance_transactions') }}
),

stripe_invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
),

customers as (
    select * from {{ ref('stg_stripe__customers') }}
),

payment_methods as (
    select * from {{ ref('payment_methods') }}
),

enriched as (
    select
        charges.charge_id,
        charges.payment_intent_id,
        charges.customer_id,
        charges.currency,
        charges.amount_minor,
        charges.amount_refunded_minor,
        charges.is_refunded,
        charges.is_disputed,
        charges.created_at,
        charges.created_date,
        charges.description,
        charges.metadata,
        charges.metadata_invoice_number,
        charges.stripe_invoice_id,
        stripe_invoices.invoice_number as stripe_invoice_number,
        stripe_invoices.metadata_erp_document_number as stripe_invoice_erp_document_number,
        stripe_invoices.description as stripe_invoice_description,
        stripe_invoices.metadata as stripe_invoice_metadata,
        coalesce(charges.customer_email, customers.customer_email) as customer_email,
        coalesce(charges.customer_name, customers.customer_name) as customer_name,
        customers.erp_customer_number,
        customers.customer_email as stripe_customer_email,
        customers.customer_name as stripe_customer_name,
        customers.metadata as customer_metadata,
        balance_transactions.balance_transaction_id,
        balance_transactions.currency as settlement_currency,
        balance_transactions.amount_minor as settlement_amount_minor,
        balance_transactions.fee_minor,
        balance_transactions.net_minor,
        balance_transactions.exchange_rate,
        charges.payment_method_type,
        coalesce(payment_methods.settlement_days, 0) as settlement_days,
        case
            when payment_methods.fee_percent_bps is not null
                then least(
                        {{ scheduled_fee }} + coalesce(payment_methods.fee_fixed_minor, 0),
                        coalesce(payment_methods.fee_cap_minor, balance_transactions.amount_minor)
                    )
        end as expected_fee_minor,
        charges.has_failed_after_success,
        failures.balance_transaction_id as failure_balance_transaction_id,
        failures.created_at as failed_at,
        failures.created_date as failed_date
    from charges
    left join balance_transactions
        on charges.balance_transaction_id = balance_transactions.balance_transaction_id
    left join stripe_invoices
        on charges.stripe_invoice_id = stripe_invoices.stripe_invoice_id
    left join customers
        on charges.customer_id = customers.customer_id
    left join payment_methods
        on charges.payment_method_type = payment_methods.payment_method
    left join balance_transactions as failures
        on charges.failure_balance_transaction_id = failures.balance_transaction_id
    where charges.is_succeeded
        or charges.has_failed_after_success
)

select * from enriched
