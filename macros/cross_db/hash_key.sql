{#- A stable surrogate key: md5 of the given columns as text, null as '', joined by '|'. -#}
{% macro hash_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    md5({{ dbt.concat(parts) }})
{%- endmacro %}

{#- A stable bucket 0 .. buckets-1 of a text value, for a deterministic sample. -#}
{% macro stable_bucket(expression, buckets) -%}
    {{ return(adapter.dispatch('stable_bucket', 'recon')(expression, buckets)) }}
{%- endmacro %}

{% macro default__stable_bucket(expression, buckets) -%}
    (abs(hashtext({{ expression }})) % {{ buckets }})
{%- endmacro %}

{#- Spark: its Murmur3 `hash`, not DuckDB's: another (equally stable) sample. -#}
{% macro spark__stable_bucket(expression, buckets) -%}
    pmod(hash({{ expression }}), {{ buckets }})
{%- endmacro %}

{% macro duckdb__stable_bucket(expression, buckets) -%}
    (hash({{ expression }}) % {{ buckets }})
{%- endmacro %}
