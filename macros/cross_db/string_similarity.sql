{#-
    Similarity of two strings between 0 (nothing alike) and 1 (equal), case-insensitive.
    DuckDB: Jaro-Winkler. Elsewhere a simple, portable fallback: 1 when equal after
    lower-casing and removing everything but letters and digits, 0.9 when one contains the
    other, else 0.
-#}
{% macro string_similarity(left, right) -%}
    {{ return(adapter.dispatch('string_similarity', 'recon')(left, right)) }}
{%- endmacro %}

{% macro default__string_similarity(left, right) -%}
    (case
        when {{ left }} is null or {{ right }} is null then 0.0
        when regexp_replace(lower({{ left }}), '[^a-z0-9]', '', 'g')
            = regexp_replace(lower({{ right }}), '[^a-z0-9]', '', 'g') then 1.0
        when strpos(lower({{ left }}), lower({{ right }})) > 0
            or strpos(lower({{ right }}), lower({{ left }})) > 0 then 0.9
        else 0.0
    end)
{%- endmacro %}

{% macro duckdb__string_similarity(left, right) -%}
    coalesce(jaro_winkler_similarity(lower({{ left }}), lower({{ right }})), 0.0)
{%- endmacro %}
