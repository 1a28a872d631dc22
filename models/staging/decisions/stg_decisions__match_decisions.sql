with

source as (
    select * from {{ source_or_empty('decisions', 'match_decisions', {
        'match_decision_key': dbt.type_string(),
        'stripe_object_id': dbt.type_string(),
        'erp_document_number': dbt.type_string(),
        'erp_payment_number': dbt.type_string(),
        'erp_journal_number': dbt.type_string(),
        'decision': dbt.type_string(),
        'decided_at': dbt.type_timestamp(),
        'decided_by': dbt.type_string(),
    }) }} as match_decisions  -- noqa: AL05
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
        decided_by
    from source
)

select * from renamed
