{#- A quarantined row is never silent: one row per quarantine row without its source, line or reason. -#}
select
    cast(quarantine_id as varchar) as object_id,
    cast(null as varchar) as currency,
    cast(null as bigint) as amount_minor,
    cast(0 as bigint) as at_stake_minor,
    'quarantine row without '
    || case when source is null then 'source' when line is null then 'line' else 'reason' end as detail
from {{ batch }} as batch_rows
where source is null or line is null or reason is null
