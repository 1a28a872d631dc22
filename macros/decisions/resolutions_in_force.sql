{#-
    The resolution in force of each object a person resolved (stg_decisions__exception_resolutions):
    its latest, the review page's on a tie, then the type's name. `bank_types` true: only the
    bank statements' exception types (var bank_exception_types); false: every other type. The two
    are kept apart because a payout's bank exception resolved is not its two-way exception
    resolved, nor a label for the classifier; the rule that picks the one in force is this one.
-#}
{% macro resolutions_in_force(bank_types) -%}
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
        and exception_type {{ '' if bank_types else 'not ' }}in ({{ "'" ~ var('bank_exception_types') | join("', '") ~ "'" }})
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
{%- endmacro %}
