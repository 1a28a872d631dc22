{#-
    One row per resolved exception: the CSV resolutions (exception_resolutions.csv) and the
    review page's (recon review, loaded by recon run as review_exception_resolutions). Where
    both resolve the same object and type, the later resolution stands (the review's on a tie).
-#}
{%- set resolution_columns = {
    'object_id': dbt.type_string(),
    'exception_type': dbt.type_string(),
    'disposition': dbt.type_string(),
    'resolved_at': dbt.type_timestamp(),
    'resolved_by': dbt.type_string(),
    'note': dbt.type_string(),
} -%}

with

file_resolutions as (
    select * from {{ source_or_empty(
        'decisions', 'exception_resolutions', resolution_columns
    ) }} as exception_resolutions  -- noqa: AL05
),

review_resolutions as (
    select * from {{ source_or_empty(
        'decisions', 'review_exception_resolutions', resolution_columns
    ) }} as review_exception_resolutions  -- noqa: AL05
),

unioned as (
    select
        object_id,
        exception_type,
        disposition,
        resolved_at,
        resolved_by,
        note,
        'file' as decision_source,
        1 as source_rank
    from file_resolutions
    union all
    select
        object_id,
        exception_type,
        disposition,
        resolved_at,
        resolved_by,
        note,
        'review' as decision_source,
        0 as source_rank
    from review_resolutions
),

renamed as (
    select
        object_id,
        exception_type,
        disposition,
        {{ to_utc_timestamp('resolved_at') }} as resolved_at,
        resolved_by,
        note,
        decision_source,
        row_number() over (
            partition by object_id, exception_type
            order by resolved_at desc, source_rank asc
        ) as recency
    from unioned
),

final as (
    select
        object_id,
        exception_type,
        disposition,
        resolved_at,
        resolved_by,
        note,
        decision_source
    from renamed
    where recency = 1
)

select * from final
