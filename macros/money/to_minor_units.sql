{#-
    An ERP amount in major units (an exact DECIMAL) as an integer in the currency's minor
    units: amount * 10^exponent, the exponent read from the seed `currencies`.

    No join in staging: when the model runs, the seed's rows are read once and turned into a
    CASE on the (lower-cased) currency; `ref('currencies')` is called while parsing too, so the
    seed is a parent of every model that converts money and is always built first. A currency
    the seed does not know gives null (the not_null test on *_minor names it). Decimal times an
    integer stays an exact decimal; the result is rounded half away from zero to a whole minor
    unit (an ERP amount with more decimals than its currency has) and cast to a big integer.
-#}
{% macro to_minor_units(amount_column, currency_column) -%}
    {%- set currencies = ref('currencies') -%}
    {%- set by_factor = {} -%}
    {%- if execute -%}
        {%- set rows = run_query('select currency, exponent from ' ~ currencies ~ ' order by currency') -%}
        {%- for row in rows -%}
            {%- set factor = 10 ** (row[1] | int) -%}
            {%- do by_factor.setdefault(factor, []).append(row[0] | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    cast(round({{ amount_column }} * case
        {%- for factor, codes in by_factor | dictsort %}
            when lower({{ currency_column }}) in ('{{ codes | join("', '") }}') then {{ factor }}
        {%- endfor %}
        {%- if not by_factor %}
            when {{ currency_column }} is null then null
        {%- endif %}
        end, 0) as {{ dbt.type_bigint() }})
{%- endmacro %}
