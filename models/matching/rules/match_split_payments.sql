{#-
    Rule: one charge paying several invoices, booked as one receipt per invoice, with no
    reference written anywhere.

    What it matches: a charge and two or more ERP Stripe receipts of its customer (same e-mail,
    or same customer name key) in its currency, booked on one day within var rule_days_apart
    days of the charge, whose amounts add up to the charge's amount exactly: each receipt is a
    row.
    Why: customers settle a batch of invoices at once; the sum ties the pieces together where no
    id does. Other splits (receipts on different days, several charges for one receipt) are
    left to the scored matching's sum search.
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

-- e-mails and name keys (not the coarser initials: a rule's pairs are certain)
payment_keys as (
    select * from {{ ref('int_erp_payment_customer_keys') }}
    where key_kind in ('email', 'name')
),

charge_keys as (
    select * from {{ ref('int_stripe_item_customer_keys') }}
    where key_kind in ('email', 'name')
),

customer_payments as (
    select
        payment_keys.key_kind,
        payment_keys.customer_key,
        payments.payment_number,
        payments.currency,
        payments.payment_date,
        payments.amount_minor
    from payments
    inner join payment_keys
        on payments.payment_number = payment_keys.payment_number
),

payment_days as (
    select
        key_kind,
        customer_key,
        currency,
        payment_date,
        sum(amount_minor) as total_minor
    from customer_payments
    group by key_kind, customer_key, currency, payment_date
    having count(*) > 1
),

item_keys as (
    select
        items.stripe_object_id,
        charge_keys.key_kind,
        charge_keys.customer_key,
        items.currency,
        items.amount_minor,
        items.item_date
    from items
    inner join charge_keys
        on items.stripe_object_id = charge_keys.stripe_object_id
),

groups_found as (
    select distinct
        item_keys.stripe_object_id as charge_id,
        payment_days.key_kind,
        payment_days.customer_key,
        payment_days.currency,
        payment_days.payment_date
    from item_keys
    inner join payment_days
        on item_keys.key_kind = payment_days.key_kind
        and item_keys.customer_key = payment_days.customer_key
        and item_keys.currency = payment_days.currency
        and item_keys.amount_minor = payment_days.total_minor
    where payment_days.payment_date
        between {{ dbt.dateadd('day', -var('rule_days_apart'), 'item_keys.item_date') }}
        and {{ dbt.dateadd('day', var('rule_days_apart'), 'item_keys.item_date') }}
),

pairs as (
    select distinct
        groups_found.charge_id,
        customer_payments.payment_number,
        case when groups_found.key_kind = 'email' then 0.88 else 0.85 end as confidence
    from groups_found
    inner join customer_payments
        on groups_found.key_kind = customer_payments.key_kind
        and groups_found.customer_key = customer_payments.customer_key
        and groups_found.currency = customer_payments.currency
        and groups_found.payment_date = customer_payments.payment_date
),

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_split_payments', priority=30) }}
)

select * from final
