{#-
    Rule: the Stripe charge's id (or its payment intent's id) is written in the ERP.

    What it matches: an ERP Stripe payment whose memo names the charge, and the payments of an
    ERP invoice whose external_reference names the charge or its payment intent.
    Why: an id Stripe generated cannot appear by chance. Integrations do store wrong ids
    (the previous sale's), so an external_reference counts only when the invoice's amount and
    currency equal the charge's; a memo id counts always (a memo is typed per payment).
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

by_memo as (
    select
        charges.charge_id,
        payments.payment_number,
        0.99 as confidence
    from charges
    inner join payments
        on charges.charge_id = payments.memo_stripe_id
    union all
    select
        charges.charge_id,
        payments.payment_number,
        0.98 as confidence
    from charges
    inner join payments
        on charges.payment_intent_id = payments.memo_stripe_id
),

by_external_reference as (
    select
        charges.charge_id,
        payments.payment_number,
        0.97 as confidence
    from charges
    inner join payments
        on charges.charge_id = payments.external_reference
    where payments.document_currency = charges.currency
        and payments.document_amount_minor = charges.amount_minor
    union all
    select
        charges.charge_id,
        payments.payment_number,
        0.96 as confidence
    from charges
    inner join payments
        on charges.payment_intent_id = payments.external_reference
    where payments.document_currency = charges.currency
        and payments.document_amount_minor = charges.amount_minor
),

pairs as (
    select
        charge_id,
        payment_number,
        max(confidence) as confidence
    from (
        select * from by_memo
        union all
        select * from by_external_reference
    ) as found
    group by charge_id, payment_number
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_charge_id_in_erp', priority=10) }}
)

select * from final
