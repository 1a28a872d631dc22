{#-
    One row per item that did not reconcile (CONTRACT.md section 5), typed by the rules of
    int_exceptions_identified, with the features a classifier needs. Until the classifier
    refines them, `confidence` is how sure the rule is.
-#}
with

exceptions as (
    select * from {{ ref('int_exceptions_identified') }}
),

typed as (
    select
        exceptions.*,
        case
            when exception_type in ('timing_difference', 'fee_variance', 'fx_variance', 'rounding')
                then 'expected_variance'
            else 'true_exception'
        end as disposition,
        case exception_type
            when 'rounding' then 0.97
            when 'failed_payout' then 0.99
            when 'timing_difference' then 0.9
            when 'fee_variance' then 0.95
            when 'fx_variance' then 0.85
            when 'duplicate_erp_entry' then 0.9
            when 'duplicate_charge' then 0.85
            when 'missing_deposit' then 0.85
            when 'unrecorded_dispute' then 0.85
            when 'missing_in_erp' then 0.8
            when 'missing_in_stripe' then 0.75
            else 0.7
        end as rule_confidence
    from exceptions
),

final as (
    select
        {{ hash_key(['side', 'object_id']) }} as exception_id,
        object_id,
        side,
        exception_type,
        disposition,
        cast(rule_confidence as numeric(5, 4)) as confidence,
        (
            rule_confidence < {{ var('review_min_confidence') }}
            or amount_minor > {{ var('review_amount_limit_minor') }}
        ) as requires_review,
        currency,
        cast(amount_minor as {{ dbt.type_bigint() }}) as amount_minor,
        object_type,
        {{ period_of("coalesce(stripe_date, erp_date)") }} as period,
        cast(difference_minor as {{ dbt.type_bigint() }}) as difference_minor,
        difference_currency,
        cast(fee_minor as {{ dbt.type_bigint() }}) as fee_minor,
        case
            when fee_minor is not null and fee_minor <> 0 and difference_minor is not null
                then cast(cast(difference_minor as numeric(28, 6)) / fee_minor as numeric(28, 6))
        end as difference_to_fee_ratio,
        cast(settlement_amount_minor as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        cast(exchange_rate as numeric(28, 12)) as exchange_rate,
        cast(days_apart as {{ dbt.type_bigint() }}) as days_apart,
        stripe_date,
        erp_date,
        erp_reference,
        memo,
        customer_email,
        customer_charge_count
    from typed
)

select * from final
