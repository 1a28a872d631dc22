{#-
    The ERP's own account roles (raw_erp.gl_accounts, optional: an empty relation when the ERP
    never sent one). `int_gl_accounts_mapped` lays them over the seed `gl_accounts`.
-#}
with

source as (
    select * from {{ source_or_empty('erp', 'gl_accounts', {
        'account_number': dbt.type_string(),
        'account_name': dbt.type_string(),
        'role': dbt.type_string(),
    }) }} as gl_accounts  -- noqa: AL05
),

renamed as (
    select
        account_number,
        account_name,
        lower(trim(role)) as role
    from source
)

select * from renamed
