with

source as (
    select * from {{ source_or_empty('ml', 'ml_exception_classifications', {
        'exception_id': dbt.type_string(),
        'exception_type': dbt.type_string(),
        'disposition': dbt.type_string(),
        'confidence': dbt.type_float(),
        'model_version': dbt.type_string(),
        'classified_at': dbt.type_timestamp(),
    }) }} as ml_exception_classifications
),

renamed as (
    select
        exception_id,
        exception_type,
        disposition,
        cast(confidence as numeric(5, 4)) as confidence,
        model_version,
        classified_at
    from source
)

select * from renamed
