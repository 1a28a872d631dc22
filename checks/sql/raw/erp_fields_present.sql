{#-
    Every row of an ERP table has its `required` fields, and its `money` columns (major units)
    convert exactly to minor units of the row's currency; with `no_negative`, they are not
    negative either. One row per row that breaks it, named by its `keys`.
-#}
{%- set missing = any_null(required, alias='rows_.') -%}
{%- set negative = any_negative(money, alias='rows_.') if no_negative else '1 = 0' -%}
{%- set amount = 'rows_.' ~ money[0] -%}
select
    {{ key_of(keys, alias='rows_.') }} as object_id,
    lower(trim(rows_.currency)) as currency,
    cast(round({{ amount }} * coalesce(currencies.factor, 1)) as bigint) as amount_minor,
    cast(round({{ amount }} * coalesce(currencies.factor, 1)) as bigint) as at_stake_minor,
    case
        when {{ missing }} then 'missing:' || {{ null_names(required, alias='rows_.') }}
        when {{ negative }} then 'negative amount'
        else 'amount has more decimals than the currency''s minor unit'
    end as detail
from {{ batch }} as rows_
left join {{ currencies }}
    on lower(trim(rows_.currency)) = currencies.currency
where {{ missing }} or {{ negative }} or ({{ any_inexact(money, alias='rows_.') }})
