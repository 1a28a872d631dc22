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
        charges.*,
        cast(charges.amount_minor / {{ amount_band_minor }} as {{ dbt.type_bigint() }})
        {%- if amount_band_minor > 1 %} + band_offsets.band_offset{% endif %} as amount_band
    from charges
    {%- if amount_band_minor > 1 %}
    cross join band_offsets
    {%- endif %}
),

payments_blocked as (
    select
        payments.*,
        cast(payments.document_amount_minor / {{ amount_band_minor }} as {{ dbt.type_bigint() }}) as amount_band
    from payments
),

candidates as (
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
        case
            when charges_blocked.customer_email = payments_blocked.customer_email then 1.0
            else {{ string_similarity('charges_blocked.customer_name', 'payments_blocked.customer_name') }}
        end as customer_similarity
    from charges_blocked
    inner join payments_blocked
        on charges_blocked.currency = payments_blocked.document_currency
        and charges_blocked.amount_band = payments_blocked.amount_band
    where payments_blocked.document_date
        between {{ dbt.dateadd('day', -var('fuzzy_document_days_before'), 'charges_blocked.created_date') }}
        and {{ dbt.dateadd('day', var('fuzzy_document_days_after'), 'charges_blocked.created_date') }}
    {%- if amount_band_minor > 1 %}
        and abs(charges_blocked.amount_minor - payments_blocked.document_amount_minor) < {{ amount_band_minor }}
        {%- endif %}
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
    where customer_similarity >= {{ var('fuzzy_name_min_similarity') }}
)

select * from final
