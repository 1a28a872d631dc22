{#-
    One row per GL account and its role: the ERP's own mapping (raw_erp.gl_accounts) where it
    gave one, else the project's seed `gl_accounts` (editable by finance).
-#}
with

seed_accounts as (
    select * from {{ ref('gl_accounts') }}
),

erp_accounts as (
    select * from {{ ref('stg_erp__gl_accounts') }}
),

final as (
    select
        account_number,
        account_name,
        role,
        'erp' as role_source
    from erp_accounts
    union all
    select
        seed_accounts.account_number,
        seed_accounts.account_name,
        lower(seed_accounts.role) as role,
        'seed' as role_source
    from seed_accounts
    left join erp_accounts
        on seed_accounts.account_number = erp_accounts.account_number
    where erp_accounts.account_number is null
)

select * from final
