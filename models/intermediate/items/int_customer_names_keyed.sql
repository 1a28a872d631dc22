{#-
    One row per distinct customer name written on either side (a charge's billing name, a Stripe
    customer's name, an ERP document's customer name), with its keys: the name key (macro
    customer_name_key: case, accents, punctuation, word order and legal forms do not count) and
    the coarser initials key (macro customer_initials_key). Computed once per name: names recur
    on many charges and documents.
-#}
with

charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

customers as (
    select * from {{ ref('stg_stripe__customers') }}
),

invoices as (
    select * from {{ ref('stg_erp__invoices') }}
),

names as (
    select customer_name from charges
    where customer_name is not null
    union
    select customer_name from customers
    where customer_name is not null
    union
    select customer_name from invoices
    where customer_name is not null
),

name_keys as (
    select
        customer_name,
        {{ customer_name_key('customer_name') }} as customer_name_key
    from names
),

final as (
    select
        customer_name,
        customer_name_key,
        {{ customer_initials_key('customer_name_key') }} as customer_initials_key
    from name_keys
)

select * from final
