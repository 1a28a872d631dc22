{#-
    A bounded sum search: from the CTE `parts` (one row per group and candidate member), every
    combination of `min_parts` (2 unless given) to `max_parts` members of one group, in member order, whose amounts add up
    to the group's target within `tolerance`. Returns group_key, part_count, group_score (the
    weakest member's score) and member_1 .. member_<max_parts> (null beyond part_count).
    `columns` names the parts' columns: group (the group's key), member (the member's key),
    amount (the member's amount), target (the amount the group must reach), score (the member's
    score).
-#}
{% macro split_combinations(parts, columns, max_parts, tolerance, min_parts=2) -%}
    {%- for size in range(min_parts, max_parts + 1) %}
    select
        part_1.{{ columns.group }} as group_key,
        {{ size }} as part_count,
        {%- if size == 1 %}
        part_1.{{ columns.score }} as group_score,
        {%- else %}
        least(
            {%- for n in range(1, size + 1) %}
            part_{{ n }}.{{ columns.score }}{{ "," if not loop.last }}
            {%- endfor %}
        ) as group_score,
        {%- endif %}
        {%- for n in range(1, max_parts + 1) %}
        {%- if n <= size %}
        part_{{ n }}.{{ columns.member }} as member_{{ n }}{{ "," if not loop.last }}
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as member_{{ n }}{{ "," if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from {{ parts }} as part_1
    {%- for n in range(2, size + 1) %}
    inner join {{ parts }} as part_{{ n }}
        on part_1.{{ columns.group }} = part_{{ n }}.{{ columns.group }}
        and part_{{ n - 1 }}.{{ columns.member }} < part_{{ n }}.{{ columns.member }}
    {%- endfor %}
    where abs(
        {%- for n in range(1, size + 1) %}
        part_{{ n }}.{{ columns.amount }}{{ " +" if not loop.last }}
        {%- endfor %}
        - part_1.{{ columns.target }}
    ) <= {{ tolerance }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- One row per (group_key, group_score, member) of the combinations in `groups` (the columns
    member_1 .. member_<max_parts> unpivoted). `groups` is read once, crossed with the part
    numbers: Spark expands a CTE at every reference, and a union of one select per member read
    the whole sum search max_parts times over (DECISIONLOG.md, "The sum search read once"). -#}
{% macro split_members(groups, max_parts) -%}
    select
        group_key,
        group_score,
        member
    from (
        select
            {{ groups }}.group_key,
            {{ groups }}.group_score,
            case part_numbers.part_number
                {%- for n in range(1, max_parts + 1) %}
                when {{ n }} then {{ groups }}.member_{{ n }}
                {%- endfor %}
            end as member
        from {{ groups }}
        cross join (
            {%- for n in range(1, max_parts + 1) %}
            select {{ n }} as part_number{{ " union all" if not loop.last }}
            {%- endfor %}
        ) as part_numbers
    ) as members
    where member is not null
{%- endmacro %}
