{#-
    Rule: a Stripe dispute and the ERP's chargeback journal.

    What it matches: a journal debiting the chargebacks account whose memo names the dispute
    id, or the disputed charge's id.
    Why: a chargeback is booked as a journal (chargebacks and the dispute fee against Stripe
    clearing); the memo is the only link to Stripe.
-#}
with

disputes as (
    select * from {{ ref('stg_stripe__disputes') }}
),

chargebacks as (
    select * from {{ ref('int_gl_chargebacks_identified') }}
),

pairs as (
    select
        disputes.dispute_id,
        chargebacks.journal_number,
        0.99 as confidence
    from disputes
    inner join chargebacks
        on disputes.dispute_id = chargebacks.memo_dispute_id
    union all
    select
        disputes.dispute_id,
        chargebacks.journal_number,
        0.95 as confidence
    from disputes
    inner join chargebacks
        on disputes.charge_id = chargebacks.memo_charge_id
),

final as (
    select
        disputes.dispute_id as stripe_object_id,
        cast(null as {{ dbt.type_string() }}) as erp_document_number,
        cast(null as {{ dbt.type_string() }}) as erp_payment_number,
        chargebacks.journal_number as erp_journal_number,
        'dispute_chargeback' as match_type,
        'match_dispute_to_chargeback' as rule_name,
        10 as priority,
        pairs.confidence,
        disputes.currency,
        disputes.amount_minor as stripe_amount_minor,
        chargebacks.currency as erp_currency,
        chargebacks.chargeback_amount_minor as erp_amount_minor,
        {{ days_between('disputes.created_date', 'chargebacks.posting_date') }} as days_apart,
        false as allows_split
    from pairs
    inner join disputes
        on pairs.dispute_id = disputes.dispute_id
    inner join chargebacks
        on pairs.journal_number = chargebacks.journal_number
)

select * from final
