{#-
    One row per bank statement: its account, currency, dates and the balances it states, in
    minor units. Empty when no bank statements were ever loaded.
-#}
{%- set statement_columns = {
    'statement_key': dbt.type_string(),
    'statement_id': dbt.type_string(),
    'account': dbt.type_string(),
    'currency': dbt.type_string(),
    'source': dbt.type_string(),
    'file_format': dbt.type_string(),
    'from_date': 'date',
    'to_date': 'date',
    'opening_balance_minor': dbt.type_bigint(),
    'closing_balance_minor': dbt.type_bigint(),
    'line_count': dbt.type_bigint(),
    'quarantined_line_count': dbt.type_bigint(),
} -%}

with

source as (
    select * from {{ source_or_empty('bank', 'statements', statement_columns) }} as statements  -- noqa: AL05
),

final as (
    select
        statement_key,
        statement_id,
        account,
        lower(currency) as currency,
        source as source_file,
        file_format,
        cast(from_date as date) as from_date,
        cast(to_date as date) as to_date,
        cast(opening_balance_minor as {{ dbt.type_bigint() }}) as opening_balance_minor,
        cast(closing_balance_minor as {{ dbt.type_bigint() }}) as closing_balance_minor,
        cast(line_count as {{ dbt.type_bigint() }}) as line_count,
        cast(quarantined_line_count as {{ dbt.type_bigint() }}) as quarantined_line_count
    from source
)

select * from final
