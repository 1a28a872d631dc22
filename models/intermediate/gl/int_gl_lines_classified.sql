{#- One row per GL journal line, with its account's role (null when the chart does not know it). -#}
with

lines as (
    select * from {{ ref('stg_erp__gl_entries') }}
),

accounts as (
    select * from {{ ref('int_gl_accounts_mapped') }}
),

final as (
    select
        lines.*,
        accounts.role as account_role,
        lines.debit_minor - lines.credit_minor as signed_amount_minor
    from lines
    left join accounts
        on lines.account_number = accounts.account_number
)

select * from final
