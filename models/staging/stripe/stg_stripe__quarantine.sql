{#-
    Stripe objects the load refused (raw_stripe.quarantine, an empty relation until one was).
-#}
with

source as (
    select * from {{ source_or_empty('stripe', 'quarantine', {
        'quarantine_id': dbt.type_string(),
        'table_name': dbt.type_string(),
        'object_id': dbt.type_string(),
        'source': dbt.type_string(),
        'reason': dbt.type_string(),
        'raw': dbt.type_string(),
        'quarantined_at': 'timestamp with time zone',
    }) }} as quarantine  -- noqa: AL05
),

renamed as (
    select
        quarantine_id,
        table_name,
        object_id,
        source as read_from,
        reason,
        raw as raw_object,
        {{ to_utc_timestamp('quarantined_at') }} as quarantined_at
    from source
)

select * from renamed
