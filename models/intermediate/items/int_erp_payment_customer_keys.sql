{#-
    One row per ERP payment and key its document's customer can be found by on the Stripe side:
    `email` (lower case), `name` (name key) and `initials` (initials key).
-#}
with

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
),

keys as (
    select
        payment_number,
        'email' as key_kind,
        customer_email as customer_key
    from payments
    union all
    select
        payment_number,
        'name' as key_kind,
        customer_name_key as customer_key
    from payments
    union all
    select
        payment_number,
        'initials' as key_kind,
        customer_initials_key as customer_key
    from payments
),

final as (
    select * from keys
    where customer_key is not null
)

select * from final
