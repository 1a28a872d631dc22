{#-
    Rule: same customer, same amount, within a few days.

    What it matches: a charge and an ERP Stripe receipt of the same currency and amount, booked
    within var rule_days_apart days of the charge (either way), whose document's customer is the
    charge's: the same e-mail (the charge's or its Stripe customer's, case-insensitive), or the
    same customer name key (macro customer_name_key: case, punctuation, word order and legal
    forms do not count).
    Why: when nobody wrote a reference, who paid how much and when is what a person would check
    first. It is weaker evidence than an id, so its confidence is lower, and lower again for a
    name without the e-mail.
-#}
with

items as (
    select * from {{ ref('int_stripe_items_prepared') }}
    where object_type = 'charge'
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
    where is_stripe_payment
        and amount_minor > 0
),

same_amount as (
    select
        items.stripe_object_id as charge_id,
        payments.payment_number,
        items.customer_email,
        items.stripe_customer_email,
        items.customer_name_key,
        items.stripe_customer_name_key,
        payments.customer_email as erp_customer_email,
        payments.customer_name_key as erp_customer_name_key
    from items
    inner join payments
        on items.currency = payments.currency
        and items.amount_minor = payments.amount_minor
    where payments.payment_date
        between {{ dbt.dateadd('day', -var('rule_days_apart'), 'items.item_date') }}
        and {{ dbt.dateadd('day', var('rule_days_apart'), 'items.item_date') }}
),

pairs as (
    select
        charge_id,
        payment_number,
        case
            when erp_customer_email in (customer_email, stripe_customer_email) then 0.9
            else 0.85
        end as confidence
    from same_amount
    where erp_customer_email in (customer_email, stripe_customer_email)
        or erp_customer_name_key in (customer_name_key, stripe_customer_name_key)
),

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_customer_amount_date', priority=40, allows_split=false) }}
)

select * from final
