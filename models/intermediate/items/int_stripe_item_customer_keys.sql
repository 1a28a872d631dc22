{#-
    One row per Stripe item (charge or refund) and key its customer can be found by on the ERP
    side: `email` (the charge's and its Stripe customer's, lower case), `name` (their name keys)
    and `initials` (their initials keys). What the customer rules and the blocking join on.
-#}
with

items as (
    select * from {{ ref('int_stripe_items_prepared') }}
),

keys as (
    select
        stripe_object_id,
        'email' as key_kind,
        customer_email as customer_key
    from items
    union
    select
        stripe_object_id,
        'email' as key_kind,
        stripe_customer_email as customer_key
    from items
    union
    select
        stripe_object_id,
        'name' as key_kind,
        customer_name_key as customer_key
    from items
    union
    select
        stripe_object_id,
        'name' as key_kind,
        stripe_customer_name_key as customer_key
    from items
    union
    select
        stripe_object_id,
        'initials' as key_kind,
        customer_initials_key as customer_key
    from items
    union
    select
        stripe_object_id,
        'initials' as key_kind,
        stripe_customer_initials_key as customer_key
    from items
),

final as (
    select * from keys
    where customer_key is not null
)

select * from final
