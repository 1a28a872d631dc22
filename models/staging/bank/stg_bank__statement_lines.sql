{#-
    One row per bank statement line: signed minor units (money in is positive), its dates, the
    bank's references in one upper-cased text to search (`reference_text`), and whether it is a
    credit. Empty when no bank statements were ever loaded.
-#}
{%- set line_columns = {
    'line_id': dbt.type_string(),
    'statement_key': dbt.type_string(),
    'statement_id': dbt.type_string(),
    'account': dbt.type_string(),
    'source': dbt.type_string(),
    'file_format': dbt.type_string(),
    'position': dbt.type_bigint(),
    'line': dbt.type_bigint(),
    'currency': dbt.type_string(),
    'amount_minor': dbt.type_bigint(),
    'booking_date': 'date',
    'value_date': 'date',
    'bank_reference': dbt.type_string(),
    'customer_reference': dbt.type_string(),
    'end_to_end_id': dbt.type_string(),
    'description': dbt.type_string(),
    'type_code': dbt.type_string(),
} -%}

with

source as (
    select * from {{ source_or_empty('bank', 'statement_lines', line_columns) }} as statement_lines  -- noqa: AL05
),

final as (
    select
        line_id,
        statement_key,
        statement_id,
        account,
        source as source_file,
        file_format,
        cast(position as {{ dbt.type_bigint() }}) as line_position,
        cast(line as {{ dbt.type_bigint() }}) as file_line,
        lower(currency) as currency,
        cast(amount_minor as {{ dbt.type_bigint() }}) as amount_minor,
        cast(coalesce(booking_date, value_date) as date) as booking_date,
        cast(coalesce(value_date, booking_date) as date) as value_date,
        bank_reference,
        customer_reference,
        end_to_end_id,
        description,
        type_code,
        amount_minor > 0 as is_credit,
        upper(
            coalesce(bank_reference, '') || ' ' || coalesce(customer_reference, '') || ' '
            || coalesce(end_to_end_id, '') || ' ' || coalesce(description, '')
        ) as reference_text
    from source
)

select * from final
