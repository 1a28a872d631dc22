{#-
    Every row's currency is in the seed seeds/currencies.csv (`currencies`, inlined as VALUES):
    one row per row in an unknown currency, named by its `id_column`, with its `amount_column`
    when the amount is already in minor units.
-#}
{%- set amount_column = amount_column | default(none) -%}
{%- set amount = 'rows_.' ~ amount_column if amount_column else 'cast(null as bigint)' -%}
select
    cast(rows_.{{ id_column }} as varchar) as object_id,
    lower(trim(rows_.currency)) as currency,
    {{ amount }} as amount_minor,
    {{ amount }} as at_stake_minor,
    'unknown currency ' || coalesce('''' || rows_.currency || '''', 'null') as detail
from {{ batch }} as rows_
left join {{ currencies }}
    on lower(trim(rows_.currency)) = currencies.currency
where currencies.currency is null
