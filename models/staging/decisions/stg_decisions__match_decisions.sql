{#-
    One row per decided pair: the CSV decisions (match_decisions.csv) and the review page's
    (recon review, loaded by recon run as review_match_decisions), in one vocabulary. Where both
    name the same pair, the later decision stands (the review's on a tie): a decision is
    changed by deciding again, never by editing the first.
-#}
{%- set decision_columns = {
    'match_decision_key': dbt.type_string(),
    'stripe_object_id': dbt.type_string(),
    'erp_document_number': dbt.type_string(),
    'erp_payment_number': dbt.type_string(),
    'erp_journal_number': dbt.type_string(),
    'decision': dbt.type_string(),
    'decided_at': dbt.type_timestamp(),
    'decided_by': dbt.type_string(),
} -%}

with

file_decisions as (
    select * from {{ source_or_empty(
        'decisions', 'match_decisions', decision_columns
    ) }} as match_decisions  -- noqa: AL05
),

review_decisions as (
    select * from {{ source_or_empty(
        'decisions', 'review_match_decisions', decision_columns
    ) }} as review_match_decisions  -- noqa: AL05
),

unioned as (
    select
        match_decision_key,
        stripe_object_id,
        erp_document_number,
        erp_payment_number,
        erp_journal_number,
        decision,
        decided_at,
        decided_by,
        'file' as decision_source,
        1 as source_rank
    from file_decisions
    union all
    select
        match_decision_key,
        stripe_object_id,
        erp_document_number,
        erp_payment_number,
        erp_journal_number,
        decision,
        decided_at,
        decided_by,
        'review' as decision_source,
        0 as source_rank
    from review_decisions
),

renamed as (
    select
        match_decision_key,
        stripe_object_id,
        nullif(trim(erp_document_number), '') as erp_document_number,
        nullif(trim(erp_payment_number), '') as erp_payment_number,
        nullif(trim(erp_journal_number), '') as erp_journal_number,
        lower(decision) as decision,
        {{ to_utc_timestamp('decided_at') }} as decided_at,
        decided_by,
        decision_source,
        row_number() over (
            partition by match_decision_key
            order by decided_at desc, source_rank asc
        ) as recency
    from unioned
),

final as (
    select
        match_decision_key,
        stripe_object_id,
        erp_document_number,
        erp_payment_number,
        erp_journal_number,
        decision,
        decided_at,
        decided_by,
        decision_source
    from renamed
    where recency = 1
)

select * from final
