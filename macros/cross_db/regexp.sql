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

{#-
    Spark (Java regular expressions): a backslash in a SQL string literal is an escape there, so
    the patterns' backslashes are doubled; `regexp_replace` replaces every match, `$1` a group.
-#}
{% macro spark__regexp_first(column, pattern) -%}
    nullif(regexp_extract({{ column }}, '{{ pattern | replace('\\', '\\\\') }}', 0), '')
{%- endmacro %}

{% macro spark__regexp_each(column, pattern) -%}
    explode(regexp_extract_all({{ column }}, '{{ pattern | replace('\\', '\\\\') }}', 0))
{%- endmacro %}

{#- Every match of `pattern` in `column` replaced by `replacement` (a literal text, no groups). -#}
{% macro regexp_replace_all(column, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'recon')(column, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(column, pattern, replacement) -%}
    regexp_replace({{ column }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(column, pattern, replacement) -%}
    regexp_replace({{ column }}, '{{ pattern | replace('\\', '\\\\') }}', '{{ replacement }}')
{%- endmacro %}

{#-
    The keyword that keeps a CTE from being inlined into the query that reads it (`as materialized
    (...)`), where the planner needs it (DuckDB, PostgreSQL); Spark has no such keyword (its
    optimizer plans the whole query): nothing.
-#}
{% macro cte_materialized() -%}
    {{ return(adapter.dispatch('cte_materialized', 'recon')()) }}
{%- endmacro %}

{% macro default__cte_materialized() -%}
    materialized
{%- endmacro %}

{% macro spark__cte_materialized() -%}
{%- endmacro %}

{#- `expression` without the trailing characters of `characters` (any of them, any number). -#}
{% macro rtrim_characters(expression, characters) -%}
    {{ return(adapter.dispatch('rtrim_characters', 'recon')(expression, characters)) }}
{%- endmacro %}

{% macro default__rtrim_characters(expression, characters) -%}
    rtrim({{ expression }}, '{{ characters }}')
{%- endmacro %}

{#- Spark: its two-argument rtrim takes the characters first; the SQL standard's form instead. -#}
{% macro spark__rtrim_characters(expression, characters) -%}
    trim(trailing '{{ characters }}' from {{ expression }})
{%- endmacro %}
