{#- Every ERP journal balances: debits = credits, per journal and currency, in exact decimals. -#}
with

journals as (
    select
        journal_number,
        lower(trim(currency)) as currency,
        count(*) as line_count,
        sum(coalesce(debit, 0)) as debit_total,
        sum(coalesce(credit, 0)) as credit_total
    from {{ batch }} as batch_rows
    group by journal_number, lower(trim(currency))
)

select
    cast(journals.journal_number as varchar) as object_id,
    journals.currency,
    cast(round(journals.debit_total * coalesce(currencies.factor, 1)) as bigint) as amount_minor,
    cast(round((journals.debit_total - journals.credit_total) * coalesce(currencies.factor, 1)) as bigint)
        as at_stake_minor,
    'debits ' || cast(journals.debit_total as varchar) || ' <> credits '
    || cast(journals.credit_total as varchar) || ' over '
    || cast(journals.line_count as varchar) || ' lines' as detail
from journals
left join {{ currencies }}
    on journals.currency = currencies.currency
where journals.debit_total <> journals.credit_total
