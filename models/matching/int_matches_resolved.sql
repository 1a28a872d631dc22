{#-
    One row per resolved match: the assigned pairs of the analysts' rules and the scored
    matching (int_matches_assigned), the splits the sum search found among what they left
    (int_match_splits_found), and the chargebacks that name a matched charge's document
    (int_dispute_chargebacks_found), and the pairs of what all of these left that have no other
    candidate (int_match_leftovers_paired); with a stable id, a confidence (for a charge's or a
    refund's pair the scorer's probability whatever rule made it, so one calibrated scale; a
    payout's or a dispute's its rule's; 1 for a confirmed pair) and a status: `confirmed` (a
    person confirmed the pair), `auto_matched` (confidence at least var
    auto_match_min_confidence, or the auto-accept policy's rule for its type and currency: macro
    auto_accepted), else `suggested` (a person should look).
    A receipt paying several invoices at once (int_receipt_documents_covered) is one row per
    invoice: its amount allocated by the invoices' amounts (the last row takes the remainder, so
    the rows add up to the receipt).
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

leftovers as (
    select * from {{ ref('int_match_leftovers_paired') }}
),

scored as (
    select * from {{ ref('int_match_pairs_scored') }}
),

covered as (
    select * from {{ ref('int_receipt_documents_covered') }}
),

covered_allocated as (
    select
        covered.*,
        row_number() over (partition by payment_number order by document_number) as document_position,
        count(*) over (partition by payment_number) as document_count,
        sum(document_amount_minor) over (
            partition by payment_number order by document_number
            rows between unbounded preceding and current row
        ) - document_amount_minor as allocated_before_minor
    from covered
),

assigned_by_document as (
    select
        assigned.stripe_object_id,
        coalesce(covered_allocated.document_number, assigned.erp_document_number) as erp_document_number,
        assigned.erp_payment_number,
        assigned.erp_journal_number,
        assigned.match_type,
        assigned.rule_name,
        assigned.priority,
        assigned.confidence,
        assigned.currency,
        assigned.stripe_amount_minor,
        assigned.erp_currency,
        case
            when covered_allocated.payment_number is null then assigned.erp_amount_minor
            when covered_allocated.document_position < covered_allocated.document_count
                then covered_allocated.document_amount_minor
            else assigned.erp_amount_minor - covered_allocated.allocated_before_minor
        end as erp_amount_minor,
        assigned.days_apart,
        assigned.allows_split or covered_allocated.payment_number is not null as allows_split
    from assigned
    left join covered_allocated
        on assigned.erp_payment_number = covered_allocated.payment_number
        and assigned.match_type = 'charge_payment'
),

unioned as (
    select * from assigned_by_document
    union all
    select * from splits
    union all
    select * from chargebacks
    union all
    select * from leftovers
),

-- A charge's or refund's pair is as sure as the scorer says, whichever rule made it: one
-- calibrated scale for every such match (a rule's fixed confidence is a guess); the rules
-- alone keep theirs.
confident as (
    select
        unioned.*,
        case
            when unioned.rule_name = 'human_decision' then 1.0
            when scored.probability is not null and {{ scored_matching_enabled() }} then scored.probability
            else unioned.confidence
        end as chosen_confidence
    from unioned
    left join scored
        on unioned.stripe_object_id = scored.stripe_object_id
        and unioned.erp_payment_number = scored.payment_number
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
        cast(chosen_confidence as numeric(5, 4)) as confidence,
        case
            when rule_name = 'human_decision' then 'confirmed'
            when {{ auto_accepted(
                'match', 'match_type', 'currency', 'chosen_confidence', 'stripe_amount_minor',
                "chosen_confidence >= " ~ var('auto_match_min_confidence'),
            ) }} then 'auto_matched'
            else 'suggested'
        end as status,
        currency,
        stripe_amount_minor,
        erp_currency,
        erp_amount_minor,
        days_apart,
        allows_split
    from confident
)

select * from final
