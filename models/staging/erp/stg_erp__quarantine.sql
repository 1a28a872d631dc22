with

source as (
    select * from {{ source('erp', 'quarantine') }}
),

renamed as (
    select
        quarantine_id,
        table_name,
        source as source_file,
        line as line_number,
        reason,
        raw as raw_row,
        row_key,
        {{ to_utc_timestamp('quarantined_at') }} as quarantined_at
    from source
)

select * from renamed
