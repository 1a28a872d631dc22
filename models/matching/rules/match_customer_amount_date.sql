{#-
    Rule: same customer, same amount, within a few days.

    What it matches: a charge and an ERP Stripe receipt of the same currency and amount, booked
    within var rule_days_apart days of the charge (either way; after, counted from the day its
    money is final: a bank debit's receipt may be booked when it clears), whose document's customer is the
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

item_customer_keys as (
    select * from {{ ref('int_stripe_item_customer_keys') }}
    where key_kind in ('email', 'name')
),

payment_customer_keys as (
    select * from {{ ref('int_erp_payment_customer_keys') }}
    where key_kind in ('email', 'name')
),

-- e-mails and name keys (not the coarser initials: a rule's pairs are certain), joined with the
-- amount in one key: joining on the amount first would pair every charge of a recurring amount
-- with every receipt of it (hundreds of millions of rows at a million charges).
charge_keys as (
    select
        items.stripe_object_id,
        items.currency,
        items.amount_minor,
        items.item_date,
        items.settled_date,
        item_keys.key_kind,
        item_keys.customer_key
    from items
    inner join item_customer_keys as item_keys
        on items.stripe_object_id = item_keys.stripe_object_id
),

payment_keys as (
    select
        payments.payment_number,
        payments.currency,
        payments.amount_minor,
        payments.payment_date,
        keys.key_kind,
        keys.customer_key
    from payments
    inner join payment_customer_keys as keys
        on payments.payment_number = keys.payment_number
),

same_customer_and_amount as (
    select
        charge_keys.stripe_object_id as charge_id,
        payment_keys.payment_number,
        max(case when charge_keys.key_kind = 'email' then 1 else 0 end) as has_same_email
    from charge_keys
    inner join payment_keys
        on charge_keys.key_kind = payment_keys.key_kind
        and charge_keys.customer_key = payment_keys.customer_key
        and charge_keys.currency = payment_keys.currency
        and charge_keys.amount_minor = payment_keys.amount_minor
    where payment_keys.payment_date
        between {{ dbt.dateadd('day', -var('rule_days_apart'), 'charge_keys.item_date') }}
        and {{ dbt.dateadd('day', var('rule_days_apart'), 'charge_keys.settled_date') }}
    group by charge_keys.stripe_object_id, payment_keys.payment_number
),

pairs as (
    select
        charge_id,
        payment_number,
        case when has_same_email = 1 then 0.9 else 0.85 end as confidence
    from same_customer_and_amount
),

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_customer_amount_date', priority=40, allows_split=false) }}
)

select * from final
