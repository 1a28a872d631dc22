{#-
    One row per Stripe item an ERP payment can settle: every succeeded charge (a receipt), every
    charge that succeeded and failed later (a returned bank debit the ERP may have booked), every
    refund not failed or canceled (a refund paid out), and every returned debit's
    `payment_failure_refund` balance transaction (object_type `debit_return`: the money the bank
    took back, which the ERP books as a negative receipt reversing the debit's), with what the
    matching compares:
    amounts (as charged and as settled), its date and the date its money is final (seed
    payment_methods), who paid (e-mails, names as keys, the Stripe customer's metadata) and the
    free text in which a person or an integration may have written an ERP document number.
-#}
with

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

refunds as (
    select * from {{ ref('stg_stripe__refunds') }}
    where status not in ('failed', 'canceled')
),

charge_items as (
    select
        charge_id as stripe_object_id,
        'charge' as object_type,
        'charge_payment' as match_type,
        charge_id,
        currency,
        amount_minor,
        settlement_currency,
        settlement_amount_minor,
        fee_minor,
        net_minor,
        created_at as item_at,
        created_date as item_date,
        settlement_days,
        cast({{ dbt.dateadd('day', 'settlement_days', 'created_date') }} as date) as settled_date,
        customer_email,
        stripe_customer_email,
        customer_name,
        stripe_customer_name,
        customer_metadata,
        {{ dbt.concat([
            "coalesce(description, '')", "' '", "coalesce(metadata, '')", "' '",
            "coalesce(stripe_invoice_number, '')", "' '", "coalesce(stripe_invoice_description, '')",
            "' '", "coalesce(stripe_invoice_metadata, '')",
        ]) }} as reference_text
    from charges
),

refund_items as (
    select
        refunds.refund_id as stripe_object_id,
        'refund' as object_type,
        'refund_payment' as match_type,
        refunds.charge_id,
        refunds.currency,
        refunds.amount_minor,
        -- a refund is paid out in the charge's presentment currency; what it cost in the
        -- balance currency is not needed to match it
        cast(null as {{ dbt.type_string() }}) as settlement_currency,
        cast(null as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        cast(0 as {{ dbt.type_bigint() }}) as fee_minor,
        refunds.amount_minor as net_minor,
        refunds.created_at as item_at,
        refunds.created_date as item_date,
        0 as settlement_days,
        refunds.created_date as settled_date,
        charge_items.customer_email,
        charge_items.stripe_customer_email,
        charge_items.customer_name,
        charge_items.stripe_customer_name,
        charge_items.customer_metadata,
        -- a credit memo often names the invoice it reverses: the refunded charge's text counts
        {{ dbt.concat([
            "coalesce(refunds.description, '')", "' '", "coalesce(refunds.metadata, '')", "' '",
            "coalesce(charge_items.reference_text, '')",
        ]) }} as reference_text
    from refunds
    left join charge_items
        on refunds.charge_id = charge_items.charge_id
),

-- A returned debit: Stripe takes the whole charge back with a `payment_failure_refund`
-- balance transaction, the item's id. An ERP that hears of the return reverses the receipt with
-- a negative one, as it pays a refund out: the refund rule and the scorer pair them
-- (`refund_payment`), on the charge's customer, text and amount, dated the day of the return.
debit_return_items as (
    select
        charges.failure_balance_transaction_id as stripe_object_id,
        'debit_return' as object_type,
        'refund_payment' as match_type,
        charges.charge_id,
        charges.currency,
        charges.amount_minor,
        cast(null as {{ dbt.type_string() }}) as settlement_currency,
        cast(null as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        cast(0 as {{ dbt.type_bigint() }}) as fee_minor,
        charges.amount_minor as net_minor,
        charges.failed_at as item_at,
        charges.failed_date as item_date,
        0 as settlement_days,
        charges.failed_date as settled_date,
        charge_items.customer_email,
        charge_items.stripe_customer_email,
        charge_items.customer_name,
        charge_items.stripe_customer_name,
        charge_items.customer_metadata,
        charge_items.reference_text
    from charges
    inner join charge_items
        on charges.charge_id = charge_items.charge_id
    where charges.has_failed_after_success
        and charges.failure_balance_transaction_id is not null
),

items as (
    select * from charge_items
    union all
    select * from refund_items
    union all
    select * from debit_return_items
),

names_keyed as (
    select * from {{ ref('int_customer_names_keyed') }}
),

final as (
    select
        items.*,
        {{ reference_key('items.reference_text') }} as reference_text_key,
        charge_names.customer_name_key,
        customer_names.customer_name_key as stripe_customer_name_key,
        charge_names.customer_initials_key,
        customer_names.customer_initials_key as stripe_customer_initials_key
    from items
    left join names_keyed as charge_names
        on items.customer_name = charge_names.customer_name
    left join names_keyed as customer_names
        on items.stripe_customer_name = customer_names.customer_name
)

select * from final
