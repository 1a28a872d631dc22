with

source as (
    select * from {{ source_or_empty('decisions', 'exception_resolutions', {
        'object_id': dbt.type_string(),
        'exception_type': dbt.type_string(),
        'disposition': dbt.type_string(),
        'resolved_at': dbt.type_timestamp(),
        'resolved_by': dbt.type_string(),
        'note': dbt.type_string(),
    }) }} as exception_resolutions  -- noqa: AL05
),

renamed as (
    select
        object_id,
        exception_type,
        disposition,
        {{ to_utc_timestamp('resolved_at') }} as resolved_at,
        resolved_by,
        note
    from source
)

select * from renamed
