{#-
    One row per item that did not reconcile (docs/contract.md section 5), with the features a
    classifier needs (ml_exception_features). Where `recon classify` classified the item
    (ml.ml_exception_classifications) its type, disposition and confidence win; else the
    rule-based ones of int_exceptions_identified stand. requires_review follows the auto-accept
    policy's rule for the type and currency (macro auto_accepted), else vars review_min_confidence
    and review_amount_limit_minor.
-#}
with

features as (
    select * from {{ ref('ml_exception_features') }}
),

classifications as (
    select * from {{ ref('stg_ml__exception_classifications') }}
),

classified as (
    select
        features.*,
        coalesce(classifications.exception_type, features.rule_exception_type) as exception_type,
        coalesce(classifications.disposition, features.rule_disposition) as disposition,
        coalesce(classifications.confidence, features.rule_confidence) as chosen_confidence,
        classifications.model_version
    from features
    left join classifications
        on features.exception_id = classifications.exception_id
),

final as (
    select
        exception_id,
        object_id,
        side,
        exception_type,
        disposition,
        cast(chosen_confidence as numeric(5, 4)) as confidence,
        not {{ auto_accepted(
            'exception', 'exception_type', 'currency', 'chosen_confidence', 'amount_minor',
            "not (chosen_confidence < " ~ var('review_min_confidence')
            ~ " or amount_minor > " ~ var('review_amount_limit_minor') ~ ")",
        ) }} as requires_review,
        currency,
        amount_minor,
        object_type,
        period,
        difference_minor,
        difference_currency,
        fee_minor,
        difference_to_fee_ratio,
        settlement_amount_minor,
        exchange_rate,
        days_apart,
        stripe_date,
        erp_date,
        erp_reference,
        memo,
        customer_email,
        customer_charge_count,
        rule_exception_type,
        rule_disposition,
        model_version
    from classified
)

select * from final
