{#-
    The resolution in force of each object whose bank exception a person resolved (the review
    page or the CSV decisions, with a type of var bank_exception_types): its latest (the review
    page's on a tie, then the type's name), as int_exception_resolutions_latest does for the
    classified exceptions. fct_bank_exceptions shows it and takes the exception out of the queue.
    A view, as its staging model.
-#}
{{ config(materialized='view') }}

with

exception_resolutions as (
    select * from {{ ref('stg_decisions__exception_resolutions') }}
),

ranked as (
    select
        object_id,
        exception_type,
        disposition,
        resolved_at,
        resolved_by,
        note,
        decision_source,
        row_number() over (
            partition by object_id
            order by resolved_at desc, decision_source desc, exception_type asc
        ) as recency
    from exception_resolutions
    where object_id is not null
        and exception_type in ({{ "'" ~ var('bank_exception_types') | join("', '") ~ "'" }})
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
    from ranked
    where recency = 1
)

select * from final
