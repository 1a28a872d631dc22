{#-
    Small helpers for the checks that run on several tables (checks/invariants.py gives each its
    columns): plain Jinja, rendered by checks/rendering.py and by sqlfluff's jinja templater.
-#}

{#- A text key of one or more columns: `cast(id as varchar)`, or the columns joined by '/'. -#}
{% macro key_of(columns, alias='') -%}
    {%- if columns | length == 1 -%}
        cast({{ alias }}{{ columns[0] }} as varchar)
    {%- else -%}
        {%- for column in columns -%}
            coalesce(cast({{ alias }}{{ column }} as varchar), ''){% if not loop.last %} || '/' || {% endif %}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- True when any of the columns is null. -#}
{% macro any_null(columns, alias='') -%}
    {%- for column in columns -%}
        {{ alias }}{{ column }} is null{% if not loop.last %} or {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- The names of the columns that are null, each after a space: ' customer_number currency'. -#}
{% macro null_names(columns, alias='') -%}
    {%- for column in columns -%}
        case when {{ alias }}{{ column }} is null then ' {{ column }}' else '' end{% if not loop.last %} || {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- True when any of the columns is not a whole number. -#}
{% macro any_fractional(columns, alias='') -%}
    {%- for column in columns -%}
        {{ alias }}{{ column }} <> round({{ alias }}{{ column }}){% if not loop.last %} or {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- True when any of the columns is negative. -#}
{% macro any_negative(columns, alias='') -%}
    {%- for column in columns -%}
        {{ alias }}{{ column }} < 0{% if not loop.last %} or {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- True when any of the columns (major units) is not a whole number of minor units of `currencies.factor`. -#}
{% macro any_inexact(columns, alias='') -%}
    {%- for column in columns -%}
        {{ alias }}{{ column }} * currencies.factor <> round({{ alias }}{{ column }} * currencies.factor)
        {%- if not loop.last %} or {% endif %}
    {%- endfor -%}
{%- endmacro %}
