{#-
    Every row of a Stripe table has its `required` fields, and its `money` columns are whole
    numbers of minor units (Stripe sends integers): one row per row that breaks it.
-#}
{%- set missing = any_null(required) -%}
select
    cast(id as varchar) as object_id,
    lower(currency) as currency,
    amount as amount_minor,
    amount as at_stake_minor,
    case
        when {{ missing }} then 'missing:' || {{ null_names(required) }}
        else 'amount not a whole number of minor units'
    end as detail
from {{ batch }} as batch_rows
where {{ missing }} or {{ any_fractional(money) }}
