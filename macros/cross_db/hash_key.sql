{#- A stable surrogate key: md5 of the given columns as text, null as '', joined by '|'. -#}
{% macro hash_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    md5({{ dbt.concat(parts) }})
{%- endmacro %}
