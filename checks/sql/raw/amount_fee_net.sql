{#- Every Stripe balance transaction: amount - fee = net (docs/contract.md section 6). -#}
select
    cast(id as varchar) as object_id,
    lower(currency) as currency,
    amount as amount_minor,
    coalesce(amount - fee - net, amount) as at_stake_minor,
    'amount ' || coalesce(cast(amount as varchar), 'null')
    || ' - fee ' || coalesce(cast(fee as varchar), 'null')
    || ' <> net ' || coalesce(cast(net as varchar), 'null') as detail
from {{ batch }} as batch_rows
where amount - fee <> net or amount is null or fee is null or net is null
