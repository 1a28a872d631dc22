{#-
    A Stripe object has one match row per match type, unless every one of its rows comes from a
    rule that allows a split (`allows_split`) or was confirmed by a person; the same pair never
    repeats (docs/contract.md section 6).
-#}
with

live as (
    select * from {{ batch }} as batch_rows
    where status <> 'rejected'
),

objects as (
    select
        match_type,
        stripe_object_id,
        min(currency) as currency,
        count(*) as match_rows,
        sum(stripe_amount_minor) as amount_minor,
        sum(case when allows_split or status = 'confirmed' then 0 else 1 end) as rows_not_split
    from live
    group by match_type, stripe_object_id
),

pairs as (
    select
        match_type,
        stripe_object_id,
        min(currency) as currency,
        count(*) as pair_rows,
        sum(stripe_amount_minor) as amount_minor,
        coalesce(erp_document_number, '') || '/' || coalesce(erp_payment_number, '') || '/'
        || coalesce(erp_journal_number, '') as erp_key
    from live
    group by
        match_type,
        stripe_object_id,
        coalesce(erp_document_number, '') || '/' || coalesce(erp_payment_number, '') || '/'
        || coalesce(erp_journal_number, '')
)

select
    cast(stripe_object_id as varchar) as object_id,
    currency,
    amount_minor,
    amount_minor as at_stake_minor,
    match_type || ': matched ' || cast(match_rows as varchar) || ' times, '
    || cast(rows_not_split as varchar) || ' row(s) not from a split rule' as detail
from objects
where match_rows > 1 and rows_not_split > 0
union all
select
    cast(stripe_object_id as varchar) as object_id,
    currency,
    amount_minor,
    amount_minor as at_stake_minor,
    match_type || ': the pair with ' || erp_key || ' repeats ' || cast(pair_rows as varchar) || ' times' as detail
from pairs
where pair_rows > 1
