{#-
    A post-hook that refreshes the planner's statistics of the table just built, where the
    database needs it: PostgreSQL plans joins from statistics that a new table does not have
    until autovacuum gets to it, and with none it nested-loops tables of thousands of rows into
    minutes (a matching rule took 7 minutes on 1,500 charges). DuckDB keeps its own: nothing.
    Nothing is an empty string, for which dbt runs no statement (a `select 1` was one more
    statement, and its log lines, for every model of every run and micro-batch).
-#}
{% macro analyze_relation(relation) -%}
    {{ return(adapter.dispatch('analyze_relation', 'recon')(relation)) }}
{%- endmacro %}

{% macro default__analyze_relation(relation) -%}
{%- endmacro %}

{% macro postgres__analyze_relation(relation) -%}
    {%- if relation.type == 'table' or config.get('materialized') == 'table' -%}
        analyze {{ relation }}
    {%- endif -%}
{%- endmacro %}
