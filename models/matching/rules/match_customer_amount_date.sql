{#-
    Rule: same customer, same amount, close dates (fuzzy).

    What it matches: a charge and an ERP invoice of the same currency and amount (blocked by
    currency and an amount band of var fuzzy_amount_band_minor, so never a cross join; with a
    band wider than 1 the amounts may differ by less than the band: each charge is compared
    with its own band and the two neighbouring ones, so no pair is lost at a band edge), dated
    between var fuzzy_document_days_before days before and fuzzy_document_days_after days
    after the charge, whose customer is the charge's: the same e-mail (case-insensitive), or a
    name at least var fuzzy_name_min_similarity alike; with the ERP Stripe payments applied to
    that invoice.
    Why: when nobody wrote a reference, who paid how much and when is what a person would
    check. It is weaker evidence, so its confidence is lower (below auto_match_min_confidence
    for a name-only match: a suggestion for a human).
    How: the customer is part of the blocking key. Pairs with the same e-mail are joined on it;
    for the others, names are compared once per distinct pair of names (`similar_names`: the
    charges' names against the invoices' names, far fewer than the charge-invoice pairs, as
    one customer name recurs on many charges) and the pairs are joined through the alike names.
    Comparing every charge with every invoice of its amount grew with the square of the
    charges (one amount recurs on hundreds of charges in a month).
-#}
{%- set amount_band_minor = var('fuzzy_amount_band_minor') | int %}
with

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
    where is_stripe_payment
        and amount_minor > 0
        and document_type = 'invoice'
),

{%- if amount_band_minor > 1 %}

band_offsets as (
    select -1 as band_offset
    union all
    select 0 as band_offset
    union all
    select 1 as band_offset
),
{%- endif %}

charges_blocked as (
    select
        charges.charge_id,
        charges.currency,
        charges.amount_minor,
        charges.created_date,
        charges.customer_email,
        charges.customer_name,
        cast(charges.amount_minor / {{ amount_band_minor }} as {{ dbt.type_bigint() }})
        {%- if amount_band_minor > 1 %} + band_offsets.band_offset{% endif %} as amount_band
    from charges
    {%- if amount_band_minor > 1 %}
    cross join band_offsets
    {%- endif %}
),

payments_blocked as (
    select
        payments.payment_number,
        payments.document_number,
        payments.currency,
        payments.amount_minor,
        payments.payment_date,
        payments.document_currency,
        payments.document_amount_minor,
        payments.document_date,
        payments.customer_email,
        payments.customer_name,
        cast(payments.document_amount_minor / {{ amount_band_minor }} as {{ dbt.type_bigint() }}) as amount_band
    from payments
),

-- Every pair of a charge's customer name and an invoice's customer name alike enough.
charge_names as (
    select distinct customer_name
    from charges
    where customer_name is not null
),

invoice_names as (
    select distinct customer_name
    from payments
    where customer_name is not null
),

names_compared as (
    select
        charge_names.customer_name as charge_customer_name,
        invoice_names.customer_name as invoice_customer_name,
        {{ string_similarity('charge_names.customer_name', 'invoice_names.customer_name') }}
            as name_similarity
    from charge_names
    cross join invoice_names
),

similar_names as (
    select *
    from names_compared
    where name_similarity >= {{ var('fuzzy_name_min_similarity') }}
),

same_email as (
    select
        charges_blocked.charge_id,
        charges_blocked.currency,
        charges_blocked.amount_minor,
        charges_blocked.created_date,
        payments_blocked.payment_number,
        payments_blocked.document_number,
        payments_blocked.currency as erp_currency,
        payments_blocked.amount_minor as erp_amount_minor,
        payments_blocked.payment_date,
        1.0 as customer_similarity
    from charges_blocked
    inner join payments_blocked
        on charges_blocked.currency = payments_blocked.document_currency
        and charges_blocked.amount_band = payments_blocked.amount_band
        and charges_blocked.customer_email = payments_blocked.customer_email
    where payments_blocked.document_date
        between {{ dbt.dateadd('day', -var('fuzzy_document_days_before'), 'charges_blocked.created_date') }}
        and {{ dbt.dateadd('day', var('fuzzy_document_days_after'), 'charges_blocked.created_date') }}
    {%- if amount_band_minor > 1 %}
        and abs(charges_blocked.amount_minor - payments_blocked.document_amount_minor) < {{ amount_band_minor }}
    {%- endif %}
),

-- Each invoice with the charges' customer names alike its own. Materialized, so that the
-- planner joins the charges to these (by amount and name) rather than first pairing charges
-- and invoices by amount alone, the pairs this rule avoids.
payments_named as materialized (
    select
        payments_blocked.*,
        similar_names.charge_customer_name,
        similar_names.name_similarity
    from payments_blocked
    inner join similar_names
        on payments_blocked.customer_name = similar_names.invoice_customer_name
),

similar_name as (
    select
        charges_blocked.charge_id,
        charges_blocked.currency,
        charges_blocked.amount_minor,
        charges_blocked.created_date,
        payments_named.payment_number,
        payments_named.document_number,
        payments_named.currency as erp_currency,
        payments_named.amount_minor as erp_amount_minor,
        payments_named.payment_date,
        payments_named.name_similarity as customer_similarity
    from charges_blocked
    inner join payments_named
        on charges_blocked.currency = payments_named.document_currency
        and charges_blocked.amount_band = payments_named.amount_band
        and charges_blocked.customer_name = payments_named.charge_customer_name
    -- the pairs with the same e-mail are found above
    where not coalesce(charges_blocked.customer_email = payments_named.customer_email, false)
        and payments_named.document_date
        between {{ dbt.dateadd('day', -var('fuzzy_document_days_before'), 'charges_blocked.created_date') }}
        and {{ dbt.dateadd('day', var('fuzzy_document_days_after'), 'charges_blocked.created_date') }}
    {%- if amount_band_minor > 1 %}
        and abs(charges_blocked.amount_minor - payments_named.document_amount_minor) < {{ amount_band_minor }}
    {%- endif %}
),

candidates as (
    select * from same_email
    union all
    select * from similar_name
),

final as (
    select
        charge_id as stripe_object_id,
        document_number as erp_document_number,
        payment_number as erp_payment_number,
        cast(null as {{ dbt.type_string() }}) as erp_journal_number,
        'charge_payment' as match_type,
        'match_customer_amount_date' as rule_name,
        40 as priority,
        case when customer_similarity = 1.0 then 0.9 else 0.75 end as confidence,
        currency,
        amount_minor as stripe_amount_minor,
        erp_currency,
        erp_amount_minor,
        {{ days_between('created_date', 'payment_date') }} as days_apart,
        false as allows_split
    from candidates
)

select * from final
