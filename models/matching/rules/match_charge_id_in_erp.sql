{#-
    Rule: a Stripe id of the charge is written in the ERP.

    What it matches: an ERP Stripe payment whose memo names the charge, its payment intent, the
    Stripe invoice it paid or its balance transaction (in any case: banks and exports
    upper-case them); and the payments of an ERP document whose external_reference names one of
    those ids.
    Why: an id Stripe generated cannot appear by chance. Integrations do store wrong ids (the
    previous sale's), so an external_reference counts only when the amounts agree: the
    payment's or the document's amount equals the charge's, or the payments of the documents
    naming the charge add up to it (one charge paying several invoices). A memo id counts
    always (a memo is typed per payment).
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

by_memo as (
    select
        charge_id,
        payment_number,
        confidence
    from named
    where reference_source = 'memo'
),

by_external_reference as (
    select
        named.charge_id,
        named.payment_number,
        named.confidence - 0.02 as confidence,
        charges.amount_minor as charge_amount_minor,
        charges.currency as charge_currency,
        payments.currency,
        payments.amount_minor,
        payments.document_amount_minor,
        sum(case when payments.currency = charges.currency then payments.amount_minor end)
            over (partition by named.charge_id) as named_total_minor
    from named
    inner join charges
        on named.charge_id = charges.charge_id
    inner join payments
        on named.payment_number = payments.payment_number
    where named.reference_source = 'external_reference'
),

by_external_reference_agreeing as (
    select
        charge_id,
        payment_number,
        confidence
    from by_external_reference
    where currency = charge_currency
        and (
            amount_minor = charge_amount_minor
            or document_amount_minor = charge_amount_minor
            or named_total_minor = charge_amount_minor
        )
),

pairs as (
    select
        charge_id,
        payment_number,
        max(confidence) as confidence
    from (
        select * from by_memo
        union all
        select * from by_external_reference_agreeing
    ) as found
    group by charge_id, payment_number
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_charge_id_in_erp', priority=10) }}
)

select * from final
