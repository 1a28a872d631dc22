{#-
    The sum search of int_match_splits_found: from `parts` (stripe_object_id, payment_number,
    erp_amount_minor, stripe_amount_minor, probability_as_whole), every combination of 2 to
    `max_parts` payments of one Stripe object, in payment_number order, whose amounts add up to the
    object's within `tolerance`: stripe_object_id, part_count, group_probability (the weakest
    part's), payment_number_1 .. payment_number_<max_parts> (null beyond part_count).
-#}
{% macro split_combinations(parts, max_parts, tolerance) -%}
    {%- for size in range(2, max_parts + 1) %}
    select
        part_1.stripe_object_id,
        {{ size }} as part_count,
        least(
            {%- for n in range(1, size + 1) %}
            part_{{ n }}.probability_as_whole{{ "," if not loop.last }}
            {%- endfor %}
        ) as group_probability,
        {%- for n in range(1, max_parts + 1) %}
        {%- if n <= size %}
        part_{{ n }}.payment_number as payment_number_{{ n }}{{ "," if not loop.last }}
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as payment_number_{{ n }}{{ "," if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from {{ parts }} as part_1
    {%- for n in range(2, size + 1) %}
    inner join {{ parts }} as part_{{ n }}
        on part_1.stripe_object_id = part_{{ n }}.stripe_object_id
        and part_{{ n - 1 }}.payment_number < part_{{ n }}.payment_number
    {%- endfor %}
    where abs(
        {%- for n in range(1, size + 1) %}
        part_{{ n }}.erp_amount_minor{{ " +" if not loop.last }}
        {%- endfor %}
        - part_1.stripe_amount_minor
    ) <= {{ tolerance }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- One row per (stripe_object_id, group_probability, payment_number) of the combinations in
    `groups` (the columns payment_number_1 .. payment_number_<max_parts> unpivoted). -#}
{% macro split_members(groups, max_parts) -%}
    {%- for n in range(1, max_parts + 1) %}
    select
        stripe_object_id,
        group_probability,
        payment_number_{{ n }} as payment_number
    from {{ groups }}
    where payment_number_{{ n }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
