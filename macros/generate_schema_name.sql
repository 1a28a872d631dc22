{#-
    Schemas are named exactly as configured (staging, marts, seeds, ...), not
    prefixed with the target schema: BI tools and the contract read `marts`.
    RECON_SCHEMA_PREFIX (default empty) prefixes every one of them, for a
    database shared with other projects or for isolated test runs.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set prefix = env_var('RECON_SCHEMA_PREFIX', '') -%}
    {%- if custom_schema_name is none -%}
        {{ prefix }}{{ target.schema }}
    {%- else -%}
        {{ prefix }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
