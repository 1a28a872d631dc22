{#-
    One row per bank statement: whether its lines add up from the opening to the closing
    balance. `difference_minor` is the closing balance minus (opening + lines); a statement
    without one of its balances cannot be checked (`is_balanced` null). A statement that does
    not add up is an exception (fct_bank_exceptions), never a failed build.
-#}
with

statements as (
    select * from {{ ref('stg_bank__statements') }}
),

lines as (
    select * from {{ ref('stg_bank__statement_lines') }}
),

lines_summed as (
    select
        statement_key,
        count(*) as loaded_line_count,
        sum(amount_minor) as lines_total_minor
    from lines
    group by statement_key
),

final as (
    select
        statements.*,
        coalesce(lines_summed.loaded_line_count, 0) as loaded_line_count,
        cast(coalesce(lines_summed.lines_total_minor, 0) as {{ dbt.type_bigint() }}) as lines_total_minor,
        cast(
            statements.closing_balance_minor
            - (statements.opening_balance_minor + coalesce(lines_summed.lines_total_minor, 0))
            as {{ dbt.type_bigint() }}
        ) as difference_minor,
        case
            when statements.opening_balance_minor is null or statements.closing_balance_minor is null then null
            when statements.closing_balance_minor
                = statements.opening_balance_minor + coalesce(lines_summed.lines_total_minor, 0) then true
            else false
        end as is_balanced
    from statements
    left join lines_summed
        on statements.statement_key = lines_summed.statement_key
)

select * from final
