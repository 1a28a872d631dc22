{#-
    One row per exception (the items of int_exceptions_identified), with its rule-based type,
    disposition and confidence and the features the exception classifier (ml/) learns from.
    Past exceptions and today's get their features from the same raw data, so the classifier
    learns from what it will see. Every feature is one any company's books have (amounts,
    differences against the fee and the settled amount, dates, currencies, match evidence, the
    customer's history): none looks for one world's numbering or wording. The exceptions mart reads this model and takes the
    classifier's values over the rule-based ones where it has them.
-#}
with

exceptions as (
    select * from {{ ref('int_exceptions_identified') }}
),

matches as (
    select * from {{ ref('int_matches_resolved') }}
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
),

match_evidence as (
    select
        stripe_object_id,
        min(rule_name) as match_rule_name,
        max(confidence) as match_confidence,
        count(*) as match_count
    from matches
    group by stripe_object_id
),

typed as (
    select
        {{ hash_key(['exceptions.side', 'exceptions.object_id']) }} as exception_id,
        exceptions.*,
        case
            when exceptions.exception_type in ('timing_difference', 'fee_variance', 'fx_variance', 'rounding')
                then 'expected_variance'
            else 'true_exception'
        end as rule_disposition,
        case exceptions.exception_type
            when 'rounding' then 0.97
            when 'failed_payout' then 0.99
            when 'timing_difference' then 0.9
            when 'fee_variance' then 0.95
            when 'fx_variance' then 0.85
            when 'duplicate_erp_entry' then 0.9
            when 'debit_failed_after_booking' then 0.95
            when 'duplicate_charge' then 0.85
            when 'missing_deposit' then 0.85
            when 'unrecorded_dispute' then 0.85
            when 'missing_in_erp' then 0.8
            when 'missing_in_stripe' then 0.75
            else 0.7
        end as rule_confidence,
        coalesce(exceptions.stripe_date, exceptions.erp_date) as exception_date
    from exceptions
),

customer_history_added as (
    select
        typed.*,
        case
            when typed.customer_email is null then 0
            else count(*) over (
                    partition by typed.customer_email
                    order by typed.exception_date, typed.exception_id
                    rows between unbounded preceding and current row
                ) - 1
        end as customer_prior_exception_count
    from typed
),

evidence_joined as (
    select
        customer_history_added.*,
        match_evidence.match_rule_name,
        match_evidence.match_confidence,
        coalesce(match_evidence.match_count, 0) as match_count,
        payments.payment_method as erp_payment_method,
        payments.document_number as erp_document_number
    from customer_history_added
    left join match_evidence
        on customer_history_added.object_id = match_evidence.stripe_object_id
    left join payments
        on payments.payment_number = case
            when customer_history_added.side = 'erp' then customer_history_added.object_id
            else customer_history_added.erp_reference
        end
),

final as (
    select
        exception_id,
        object_id,
        side,
        object_type,
        exception_type as rule_exception_type,
        rule_disposition,
        cast(rule_confidence as numeric(5, 4)) as rule_confidence,
        currency,
        cast(amount_minor as {{ dbt.type_bigint() }}) as amount_minor,
        {{ period_of("exception_date") }} as period,
        exception_date,
        cast(difference_minor as {{ dbt.type_bigint() }}) as difference_minor,
        difference_currency,
        cast(fee_minor as {{ dbt.type_bigint() }}) as fee_minor,
        case
            when fee_minor is not null and fee_minor <> 0 and difference_minor is not null
                then cast(cast(difference_minor as numeric(28, 6)) / fee_minor as numeric(28, 6))
        end as difference_to_fee_ratio,
        case
            when difference_minor is null then null
            when difference_currency = currency and amount_minor <> 0
                then cast(cast(difference_minor as numeric(28, 6)) / amount_minor as numeric(28, 6))
            when settlement_amount_minor is not null and settlement_amount_minor <> 0
                then cast(cast(difference_minor as numeric(28, 6)) / settlement_amount_minor as numeric(28, 6))
        end as difference_to_amount_ratio,
        cast(settlement_amount_minor as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        cast(exchange_rate as numeric(28, 12)) as exchange_rate,
        coalesce(difference_currency <> currency, false) as is_cross_currency,
        cast(days_apart as {{ dbt.type_bigint() }}) as days_apart,
        cast(
            {{ days_between('exception_date', dbt.last_day('exception_date', 'month')) }}
            as {{ dbt.type_bigint() }}
        ) as days_to_period_end,
        coalesce(
            stripe_date is not null
            and erp_date is not null
            and {{ period_of('stripe_date') }} <> {{ period_of('erp_date') }},
            false
        ) as is_other_period,
        stripe_date,
        erp_date,
        erp_reference,
        erp_payment_method,
        match_rule_name,
        cast(match_confidence as numeric(5, 4)) as match_confidence,
        cast(match_count as {{ dbt.type_bigint() }}) as match_count,
        memo,
        -- Stripe's own id formats (a charge, a payment, a payment intent), in any case: bank
        -- statements often upper-case the memo.
        coalesce(
            {{ dbt.position("'ch_'", 'lower(memo)') }} > 0
            or {{ dbt.position("'py_'", 'lower(memo)') }} > 0
            or {{ dbt.position("'pi_'", 'lower(memo)') }} > 0,
            false
        ) as has_memo_stripe_id,
        -- The memo names the document the payment is applied to, in whatever numbering the
        -- books use (shorter numbers would be found inside dates and amounts).
        coalesce(
            {{ dbt.length('erp_document_number') }} >= 4
            and {{ dbt.position('erp_document_number', 'memo') }} > 0,
            false
        ) as has_memo_document_number,
        customer_email,
        cast(coalesce(customer_charge_count, 0) as {{ dbt.type_bigint() }}) as customer_charge_count,
        cast(customer_prior_exception_count as {{ dbt.type_bigint() }}) as customer_prior_exception_count
    from evidence_joined
)

select * from final
