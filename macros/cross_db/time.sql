{#- A unix time (seconds) as a UTC timestamp without time zone. -#}
{% macro unix_to_timestamp(column) -%}
    {{ return(adapter.dispatch('unix_to_timestamp', 'recon')(column)) }}
{%- endmacro %}

{% macro default__unix_to_timestamp(column) -%}
    (to_timestamp({{ column }}) at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__unix_to_timestamp(column) -%}
    make_timestamp(cast({{ column }} as bigint) * 1000000)
{%- endmacro %}

{% macro spark__unix_to_timestamp(column) -%}
    timestamp_seconds(cast({{ column }} as bigint))
{%- endmacro %}

{#- A timestamp with time zone as a UTC timestamp without time zone. -#}
{% macro to_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'recon')(column)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{#- Spark: a TIMESTAMP is an instant shown in the session's time zone, UTC (core/spark.py). -#}
{% macro spark__to_utc_timestamp(column) -%}
    {{ column }}
{%- endmacro %}

{#- Whole days from `start_date` to `end_date` (dates), signed. -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'recon')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    (cast({{ end_date }} as date) - cast({{ start_date }} as date))
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) -%}
    datediff('day', cast({{ start_date }} as date), cast({{ end_date }} as date))
{%- endmacro %}

{% macro spark__days_between(start_date, end_date) -%}
    datediff(cast({{ end_date }} as date), cast({{ start_date }} as date))
{%- endmacro %}

{#- The reporting period (var recon_period_grain: month, quarter, year) of a date, as text
    ('2025-01', '2025-Q1', '2025'). -#}
{% macro period_of(date_column) -%}
    {%- set grain = var('recon_period_grain', 'month') -%}
    {%- set year = "cast(extract(year from " ~ date_column ~ ") as integer)" -%}
    {%- if grain == 'month' -%}
        ({{ year }} * 100 + cast(extract(month from {{ date_column }}) as integer))
    {%- elif grain == 'quarter' -%}
        ({{ year }} * 10 + cast(extract(quarter from {{ date_column }}) as integer))
    {%- else -%}
        {{ year }}
    {%- endif -%}
{%- endmacro %}
