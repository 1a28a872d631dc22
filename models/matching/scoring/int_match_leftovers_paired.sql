{#-
    One row per pair of a charge or refund and an ERP receipt that everything else left
    unmatched, when each is the other's only candidate of the same customer (e-mail, name key,
    initials or customer number) and a whole amount (equal, within rounding, the net of Stripe's
    fee, or converted), in the candidate windows: rule_name `scored_leftover`, its confidence the
    scorer's probability, so usually `suggested` for a person to confirm.
    Why: two same-customer, same-amount charges and their two receipts (twins, a subscription's
    renewal) are assigned by dates; when one receipt was booked days later, its pair's
    probability is low as a pair among all candidates, yet left alone with each other, unmatched on
    both sides, it is what a person would match. Leaving both would be two false exceptions.
    With var match_scorer_enabled false (the rules alone) it is empty.
-#}
with

scored as (
    select * from {{ ref('int_match_pairs_scored') }}
),

resolved_so_far as (
    select
        stripe_object_id,
        erp_payment_number
    from {{ ref('int_matches_assigned') }}
    union all
    select
        stripe_object_id,
        erp_payment_number
    from {{ ref('int_match_splits_found') }}
),

rejected as (
    select * from {{ ref('stg_decisions__match_decisions') }}
    where decision = 'rejected'
),

matched_items as (
    select distinct stripe_object_id from resolved_so_far
),

matched_payments as (
    select distinct erp_payment_number from resolved_so_far
    where erp_payment_number is not null
),

leftover_pairs as (
    select scored.*
    from scored
    left join matched_items
        on scored.stripe_object_id = matched_items.stripe_object_id
    left join matched_payments
        on scored.payment_number = matched_payments.erp_payment_number
    left join rejected
        on scored.stripe_object_id = rejected.stripe_object_id
        and (
            scored.payment_number = rejected.erp_payment_number
            or (rejected.erp_payment_number is null and scored.document_number = rejected.erp_document_number)
        )
    where matched_items.stripe_object_id is null
        and matched_payments.erp_payment_number is null
        and rejected.stripe_object_id is null
        and scored.amount_level in ('exact', 'rounding', 'net_of_fee', 'converted')
        and (
            scored.email_level = 'equal'
            or scored.name_level in ('equal', 'similar', 'initials')
            or scored.customer_number_level = 'found'
        )
        and {{ scored_matching_enabled() }}
),

counted as (
    select
        leftover_pairs.*,
        count(*) over (partition by stripe_object_id) as item_candidates,
        count(*) over (partition by payment_number) as payment_candidates
    from leftover_pairs
),

final as (
    select
        stripe_object_id,
        document_number as erp_document_number,
        payment_number as erp_payment_number,
        cast(null as {{ dbt.type_string() }}) as erp_journal_number,
        match_type,
        'scored_leftover' as rule_name,
        50 as priority,
        cast(probability as numeric(5, 4)) as confidence,
        currency,
        stripe_amount_minor,
        erp_currency,
        erp_amount_minor,
        days_apart,
        false as allows_split
    from counted
    where item_candidates = 1
        and payment_candidates = 1
)

select * from final
