{#-
    One row per item that did not reconcile (docs/contract.md section 5), with the features a
    classifier needs (ml_exception_features). Where `recon classify` classified the item
    (ml.ml_exception_classifications) its type, disposition and confidence win; else the
    rule-based ones of int_exceptions_identified stand. requires_review follows the auto-accept
    policy's rule for the type and currency (macro auto_accepted), else vars review_min_confidence
    and review_amount_limit_minor; an exception a person resolved (the team's decisions, CSV or
    review page: the latest resolution of its object) never requires review, and its resolution
    is shown beside the machine's values (resolved_*), which stay as they were.
-#}
with

features as (
    select * from {{ ref('ml_exception_features') }}
),

classifications as (
    select * from {{ ref('stg_ml__exception_classifications') }}
),

latest_resolutions as (
    select * from {{ ref('int_exception_resolutions_latest') }}
),

classified as (
    select
        features.*,
        coalesce(classifications.exception_type, features.rule_exception_type) as exception_type,
        coalesce(classifications.disposition, features.rule_disposition) as disposition,
        coalesce(classifications.confidence, features.rule_confidence) as chosen_confidence,
        classifications.model_version,
        latest_resolutions.object_id is not null as is_resolved,
        latest_resolutions.exception_type as resolved_exception_type,
        latest_resolutions.disposition as resolved_disposition,
        latest_resolutions.resolved_at,
        latest_resolutions.resolved_by,
        latest_resolutions.note as resolution_note,
        latest_resolutions.decision_source as resolution_source
    from features
    left join classifications
        on features.exception_id = classifications.exception_id
    left join latest_resolutions
        on features.object_id = latest_resolutions.object_id
),

final as (
    select
        exception_id,
        object_id,
        side,
        exception_type,
        disposition,
        cast(chosen_confidence as numeric(5, 4)) as confidence,
        not is_resolved and not {{ auto_accepted(
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
        model_version,
        is_resolved,
        resolved_exception_type,
        resolved_disposition,
        cast(resolved_at as {{ dbt.type_timestamp() }}) as resolved_at,
        resolved_by,
        resolution_note,
        resolution_source
    from classified
)

select * from final
