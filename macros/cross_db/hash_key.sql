{#- A stable surrogate key: md5 of the given columns as text, null as '', joined by '|'. -#}
{% macro hash_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    md5({{ dbt.concat(parts) }})
{%- endmacro %}

{#- A stable bucket 0 .. buckets-1 of a text value, for a deterministic sample: the first 32 bits of
    its md5 (8 hex digits) as a number, modulo buckets. md5 is the same function on every target,
    so DuckDB, PostgreSQL and Spark draw the same sample (their own hashes would not). -#}
{% macro stable_bucket(expression, buckets) -%}
    {{ return(adapter.dispatch('stable_bucket', 'recon')(expression, buckets)) }}
{%- endmacro %}

{% macro default__stable_bucket(expression, buckets) -%}
    (('x' || substr(md5({{ expression }}), 1, 8))::bit(32)::bigint % {{ buckets }})
{%- endmacro %}

{% macro duckdb__stable_bucket(expression, buckets) -%}
    (cast('0x' || substr(md5({{ expression }}), 1, 8) as bigint) % {{ buckets }})
{%- endmacro %}

{% macro spark__stable_bucket(expression, buckets) -%}
    pmod(cast(conv(substr(md5({{ expression }}), 1, 8), 16, 10) as bigint), {{ buckets }})
{%- endmacro %}
