{#- How many input rows were quarantined, by table and reason (severity info: reported, never failing). -#}
select
    coalesce(table_name, '?') || ': ' || coalesce(reason, '?') as object_id,
    cast(null as varchar) as currency,
    cast(count(*) as bigint) as amount_minor,
    cast(0 as bigint) as at_stake_minor,
    cast(count(*) as varchar) || ' row(s), first at '
    || min(coalesce(source, '?') || ' line ' || coalesce(cast(line as varchar), '?')) as detail
from {{ batch }} as batch_rows
group by coalesce(table_name, '?') || ': ' || coalesce(reason, '?')
