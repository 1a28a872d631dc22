{#- The first substring of `column` matching the POSIX regular expression `pattern`, else null. -#}
{% macro regexp_first(column, pattern) -%}
    {{ return(adapter.dispatch('regexp_first', 'recon')(column, pattern)) }}
{%- endmacro %}

{% macro default__regexp_first(column, pattern) -%}
    substring({{ column }} from '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__regexp_first(column, pattern) -%}
    nullif(regexp_extract({{ column }}, '{{ pattern }}', 0), '')
{%- endmacro %}

{#-
    Every substring of `column` matching `pattern`, one row each: a set-returning expression
    for a select list (a row without a match yields no row).
-#}
{% macro regexp_each(column, pattern) -%}
    {{ return(adapter.dispatch('regexp_each', 'recon')(column, pattern)) }}
{%- endmacro %}

{% macro default__regexp_each(column, pattern) -%}
    (regexp_matches({{ column }}, '({{ pattern }})', 'g'))[1]
{%- endmacro %}

{% macro duckdb__regexp_each(column, pattern) -%}
    unnest(regexp_extract_all({{ column }}, '{{ pattern }}', 0))
{%- endmacro %}
