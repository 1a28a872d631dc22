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
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
