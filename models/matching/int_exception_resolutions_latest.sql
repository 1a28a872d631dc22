{#-
    The resolution in force of each resolved object: its latest (the review page's on a tie, then
    the type's name). Where a person resolved the same object twice, with two types, the later
    decision stands. The exceptions mart shows it and the classifier learns from it (ml/features.py).
    A view, as its staging model: `recon classify` reads the decisions as the raw tables hold them.
    Resolutions of the bank statements' exception types (var bank_exception_types) are left to
    int_bank_exception_resolutions_latest: a payout's bank exception resolved is not its two-way
    exception resolved, nor a label for the classifier.
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
        and exception_type not in ({{ "'" ~ var('bank_exception_types') | join("', '") ~ "'" }})
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
