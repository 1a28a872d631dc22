{#-
    Every row has its key and no two rows share it: one row per key missing or repeated. Checked
    on many raw tables (checks/invariants.py gives each its `keys`, the `required` columns when
    more than the keys, and its `amount_column` and `currency_column` when it has them).
-#}
{%- set key = key_of(keys) -%}
{%- set missing = any_null(required | default(keys)) -%}
{%- set amount = amount_column | default(none) or 'cast(null as bigint)' -%}
{%- set currency_column = currency_column | default(none) -%}
{%- set currency = 'lower(trim(' ~ currency_column ~ '))' if currency_column else 'cast(null as varchar)' -%}
select
    {{ key }} as object_id,
    min({{ currency }}) as currency,
    min({{ amount }}) as amount_minor,
    sum({{ amount }}) as at_stake_minor,
    case
        when max(case when {{ missing }} then 1 else 0 end) = 1 then 'key missing'
        else cast(count(*) as varchar) || ' rows share this key'
    end as detail
from {{ batch }} as batch_rows
group by {{ key }}
having count(*) > 1 or max(case when {{ missing }} then 1 else 0 end) = 1
