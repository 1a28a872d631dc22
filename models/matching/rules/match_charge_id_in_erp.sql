{#-
    Rule: a Stripe id of the charge is written in the ERP.

    What it matches: an ERP Stripe payment whose memo names the charge, its payment intent, the
    Stripe invoice it paid or its balance transaction (in any case: banks and exports
    upper-case them), or whose document's external_reference names one of those ids, when the
    amounts agree (see `agreeing`).
    Why: an id Stripe generated cannot appear by chance, but people and integrations write the
    wrong one: a typo, the previous sale's, another customer's charge. With the amounts agreeing
    the pair is certain; without, the scored matching weighs the id against the rest (a keying
    error of the same customer's receipt is still matched there, and typed amount_mismatch).
-#}
with

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
    where is_stripe_payment
        and amount_minor > 0
),

charge_ids as (
    select * from {{ ref('int_stripe_item_references') }}
    where reference_kind = 'stripe_id'
),

payment_ids as (
    select * from {{ ref('int_erp_payment_references') }}
    where reference_kind = 'stripe_id'
),

named as (
    select
        charge_ids.stripe_object_id as charge_id,
        payment_ids.payment_number,
        payment_ids.reference_source,
        case charge_ids.reference_source
            when 'charge' then 0.99
            when 'payment_intent' then 0.98
            else 0.97
        end as confidence
    from charge_ids
    inner join payment_ids
        on charge_ids.reference_key = payment_ids.reference_key
    inner join charges
        on charge_ids.stripe_object_id = charges.charge_id
    inner join payments
        on payment_ids.payment_number = payments.payment_number
),

-- An id is trusted when the amounts agree: the payment's (or its document's) amount is the
-- charge's, within rounding, its net of Stripe's fee, or its settled amount when booked in the
-- balance currency; or the payments naming the charge add up to it (one charge, several
-- invoices). A memo or a reference naming a charge of another amount may be a typo or
-- another customer's charge: the scored matching weighs it against the rest of the evidence.
named_amounts as (
    select
        named.charge_id,
        named.payment_number,
        named.confidence - case when named.reference_source = 'memo' then 0 else 0.02 end as confidence,
        charges.currency as charge_currency,
        charges.amount_minor as charge_amount_minor,
        charges.net_minor,
        charges.settlement_currency,
        charges.settlement_amount_minor,
        payments.currency,
        payments.amount_minor,
        payments.document_amount_minor,
        sum(case when payments.currency = charges.currency then payments.amount_minor else 0 end)
            over (partition by named.charge_id, named.reference_source)
            as named_total_minor
    from named
    inner join charges
        on named.charge_id = charges.charge_id
    inner join payments
        on named.payment_number = payments.payment_number
),

agreeing as (
    select
        charge_id,
        payment_number,
        confidence
    from named_amounts
    where (
        currency = charge_currency
        and (
            abs(amount_minor - charge_amount_minor) <= {{ var('rounding_tolerance_minor') }}
            or document_amount_minor = charge_amount_minor
            or (settlement_currency = charge_currency and amount_minor = net_minor)
            or named_total_minor = charge_amount_minor
        )
    )
    or (
        currency = settlement_currency
        and currency <> charge_currency
        and abs(amount_minor - settlement_amount_minor)
        <= {{ var('fx_variance_max_ratio') }} * settlement_amount_minor
    )
),

pairs as (
    select
        charge_id,
        payment_number,
        max(confidence) as confidence
    from agreeing
    group by charge_id, payment_number
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_charge_id_in_erp', priority=10) }}
)

select * from final
