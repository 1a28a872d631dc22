{#-
    One row per matched pair (docs/contract.md section 5). A Stripe object matched to several ERP
    documents (a split) repeats on several rows: its amount is allocated to them (each row's
    ERP amount, the remainder on the last row), so the rows of an object add up to its amount
    and a difference shows once. Each charge or refund pair carries the scorer's probability and
    the evidence it weighed (int_match_pairs_scored), whichever rule made the match.
-#}
with

matches as (
    select * from {{ ref('int_matches_resolved') }}
),

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

scored as (
    select * from {{ ref('int_match_pairs_scored') }}
),

allocated as (
    select
        matches.*,
        count(*) over (partition by match_type, stripe_object_id) as rows_of_object,
        row_number() over (
            partition by match_type, stripe_object_id
            order by erp_document_number, erp_payment_number, erp_journal_number
        ) as row_of_object,
        sum(erp_amount_minor) over (
            partition by match_type, stripe_object_id
        ) as erp_total_of_object,
        sum(erp_amount_minor) over (
            partition by match_type, stripe_object_id
            order by erp_document_number, erp_payment_number, erp_journal_number
            rows between unbounded preceding and current row
        ) as erp_through_row,
        min(case when currency = erp_currency then 1 else 0 end) over (
            partition by match_type, stripe_object_id
        ) as is_same_currency
    from matches
),

final as (
    select
        allocated.match_id,
        allocated.match_type,
        allocated.stripe_object_id,
        allocated.erp_document_number,
        allocated.erp_payment_number,
        allocated.erp_journal_number,
        allocated.rule_name,
        allocated.confidence,
        allocated.status,
        allocated.currency,
        -- In the object's currency each row takes its ERP amount and the last the rest (a difference
        -- shows once); booked in another currency, the rows share the object's amount in
        -- proportion to their ERP amounts, rounded cumulatively so they add up to it exactly.
        cast(case
            when allocated.rows_of_object = 1 then allocated.stripe_amount_minor
            when allocated.is_same_currency = 1 and allocated.row_of_object < allocated.rows_of_object
                then allocated.erp_amount_minor
            when allocated.is_same_currency = 1
                then allocated.stripe_amount_minor
                    - (allocated.erp_total_of_object - allocated.erp_amount_minor)
            when allocated.erp_total_of_object = 0
                then case when allocated.row_of_object = 1 then allocated.stripe_amount_minor else 0 end
            else
                round(
                    allocated.stripe_amount_minor * allocated.erp_through_row
                    / cast(allocated.erp_total_of_object as {{ dbt.type_numeric() }})
                )
                - round(
                    allocated.stripe_amount_minor * (allocated.erp_through_row - allocated.erp_amount_minor)
                    / cast(allocated.erp_total_of_object as {{ dbt.type_numeric() }})
                )
        end as {{ dbt.type_bigint() }}) as stripe_amount_minor,
        cast(allocated.erp_amount_minor as {{ dbt.type_bigint() }}) as erp_amount_minor,
        cast(case
            when allocated.rows_of_object > 1 and allocated.row_of_object < allocated.rows_of_object then 0
            when allocated.is_same_currency = 1
                then allocated.erp_total_of_object - allocated.stripe_amount_minor
            when charges.settlement_currency = allocated.erp_currency
                then allocated.erp_total_of_object - charges.settlement_amount_minor
            else 0
        end as {{ dbt.type_bigint() }}) as difference_minor,
        allocated.erp_currency,
        case
            when allocated.currency = allocated.erp_currency then allocated.currency
            else allocated.erp_currency
        end as difference_currency,
        allocated.priority,
        cast(allocated.days_apart as {{ dbt.type_bigint() }}) as days_apart,
        allocated.allows_split,
        cast(scored.probability as numeric(5, 4)) as match_probability,
        {{ dbt.concat([
            "'amount '", 'scored.amount_level', "'; days '", 'scored.days_level',
            "'; email '", 'scored.email_level', "'; name '", 'scored.name_level',
            "'; customer number '", 'scored.customer_number_level', "'; stripe id '", 'scored.stripe_id_level',
            "'; document '", 'scored.document_level', "'; method '", 'scored.method_level',
        ]) }} as evidence
    from allocated
    left join charges
        on allocated.stripe_object_id = charges.charge_id
    left join scored
        on allocated.stripe_object_id = scored.stripe_object_id
        and allocated.erp_payment_number = scored.payment_number
)

select * from final
