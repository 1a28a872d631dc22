{#- An 8-byte floating-point type for scores and probabilities (dbt's type_float is 4 bytes on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'recon')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- dbt's type_string on Spark is `varchar`, which Spark refuses without a length: `string`.
    (dbt_project.yml's `dispatch` lets this project's variants of dbt's macros win.) -#}
{% macro spark__type_string() -%}
    string
{%- endmacro %}
