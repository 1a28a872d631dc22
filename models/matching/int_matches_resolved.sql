{#-
    One row per resolved match: the assigned pairs of the analysts' rules and the scored
    matching (int_matches_assigned), the splits the sum search found among what they left
    (int_match_splits_found), and the chargebacks that name a matched charge's document
    (int_dispute_chargebacks_found); with a stable id and a status: `confirmed` (a person
    confirmed the pair), `auto_matched` (confidence at least var auto_match_min_confidence),
    else `suggested` (a person should look).
-#}
with

assigned as (
    select * from {{ ref('int_matches_assigned') }}
),

splits as (
    select * from {{ ref('int_match_splits_found') }}
),

chargebacks as (
    select * from {{ ref('int_dispute_chargebacks_found') }}
),

unioned as (
    select * from assigned
    union all
    select * from splits
    union all
    select * from chargebacks
),

final as (
    select
        {{ hash_key(['match_type', 'stripe_object_id', 'erp_document_number',
            'erp_payment_number', 'erp_journal_number']) }} as match_id,
        match_type,
        stripe_object_id,
        erp_document_number,
        erp_payment_number,
        erp_journal_number,
        rule_name,
        priority,
        cast(confidence as numeric(5, 4)) as confidence,
        case
            when rule_name = 'human_decision' then 'confirmed'
            when confidence >= {{ var('auto_match_min_confidence') }} then 'auto_matched'
            else 'suggested'
        end as status,
        currency,
        stripe_amount_minor,
        erp_currency,
        erp_amount_minor,
        days_apart,
        allows_split
    from unioned
)

select * from final
