{#-
    One row per match type, combination of evidence levels and label, with how many candidate
    pairs have it: what the match scorer learns from (ml/match_scorer.py). Labels come from the
    books in front of it, never from a world's truth:
    - 1: a pair the analysts' rules found with certainty (confidence of at least 0.95: an id or a
      document number) whose ERP payment no other certain pair claims, or a pair a person
      confirmed;
    - 0: a pair a person rejected, and every other candidate of an item or a payment that has a
      certain pair (one-to-one: the other candidates of a matched item are not its match);
    - the rest is unlabelled and left out.
    Only the pairs of the training sample (int_match_pairs_candidate.is_training_sample: every
    item up to var match_training_sample_items, a stable share beyond) are counted.
-#}
with

candidates as (
    select * from {{ ref('int_match_pairs_candidate') }}
),

rule_pairs as (
    select * from {{ ref('int_match_candidates_unioned') }}
    where match_type in ('charge_payment', 'refund_payment')
        and erp_payment_number is not null
),

decisions as (
    select * from {{ ref('stg_decisions__match_decisions') }}
),

certain as (
    select
        stripe_object_id,
        erp_payment_number as payment_number
    from rule_pairs
    group by stripe_object_id, erp_payment_number
    having max(confidence) >= 0.95
),

payment_claims as (
    select
        payment_number,
        count(*) as claim_count
    from certain
    group by payment_number
),

positives as (
    select
        certain.stripe_object_id,
        certain.payment_number
    from certain
    inner join payment_claims
        on certain.payment_number = payment_claims.payment_number
    where payment_claims.claim_count = 1
),

matched_payments as (
    select distinct payment_number from positives
),

matched_items as (
    select distinct stripe_object_id from positives
),

labelled as (
    select
        candidates.*,
        case
            when rejected.stripe_object_id is not null then 0
            when positives.stripe_object_id is not null then 1
            when matched_payments.payment_number is not null or matched_items.stripe_object_id is not null
                then 0
        end as label
    from candidates
    left join positives
        on candidates.stripe_object_id = positives.stripe_object_id
        and candidates.payment_number = positives.payment_number
    left join matched_payments
        on candidates.payment_number = matched_payments.payment_number
    left join matched_items
        on candidates.stripe_object_id = matched_items.stripe_object_id
    left join decisions as rejected
        on candidates.stripe_object_id = rejected.stripe_object_id
        and rejected.decision = 'rejected'
        and (
            candidates.payment_number = rejected.erp_payment_number
            or (rejected.erp_payment_number is null and candidates.document_number = rejected.erp_document_number)
        )
),

final as (
    select
        match_type,
        amount_level,
        days_level,
        email_level,
        name_level,
        customer_number_level,
        stripe_id_level,
        document_level,
        method_level,
        label,
        count(*) as pair_count
    from labelled
    where label is not null
        and is_training_sample
    group by
        match_type, amount_level, days_level, email_level, name_level, customer_number_level,
        stripe_id_level, document_level, method_level, label
)

select * from final
