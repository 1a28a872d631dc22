{#-
    A source table that may not exist yet (an optional input: the ERP's gl_accounts, the
    team's decisions): the table when the warehouse has it, else an empty relation with the
    given columns ({name: type}). `source()` is called while parsing, so lineage and
    freshness still know the table.
-#}
{% macro source_or_empty(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        (select
        {%- for name, type in columns.items() %}
            cast(null as {{ column_type(type) }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- A type as written for DuckDB and PostgreSQL, in the target's words (Spark: no `varchar`
    without a length, no time zone in the type). -#}
{% macro column_type(type) -%}
    {{ return(adapter.dispatch('column_type', 'recon')(type)) }}
{%- endmacro %}

{% macro default__column_type(type) -%}
    {{ type }}
{%- endmacro %}

{% macro spark__column_type(type) -%}
    {%- set spelled = type | lower | trim -%}
    {%- if spelled in ('varchar', 'text') -%} string
    {%- elif spelled in ('timestamp with time zone', 'timestamptz') -%} timestamp
    {%- elif spelled == 'double precision' -%} double
    {%- else -%} {{ type }}
    {%- endif -%}
{%- endmacro %}
