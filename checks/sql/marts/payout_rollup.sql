{#-
    Each paid payout's amount equals the sum of its rpt_payout_invoices net plus the net of the
    items no invoice explains; and equals its own items in rpt_payout_reconciliation
    (charges + refunds + disputes + failed debits + other - fees).
-#}
with

invoices as (
    select
        payout_id,
        stripe_object_id,
        sum(net_minor) as net_minor
    from {{ marts }}.rpt_payout_invoices
    group by payout_id, stripe_object_id
),

invoice_totals as (
    select
        payout_id,
        count(*) as object_count,
        sum(net_minor) as net_minor
    from invoices
    group by payout_id
),

composition as (
    select
        settled.payout_id,
        transactions.source,
        transactions.net
    from {{ raw_stripe }}.payout_balance_transactions as settled
    inner join {{ raw_stripe }}.balance_transactions as transactions
        on settled.balance_transaction_id = transactions.id
    inner join {{ raw_stripe }}.payouts as own
        on settled.payout_id = own.id
    where
        transactions.id <> coalesce(own.balance_transaction, '')
        and not (transactions.type = 'payout' and transactions.source = own.id)
),

unexplained as (
    select
        composition.payout_id,
        sum(composition.net) as net_minor
    from composition
    left join invoices
        on composition.payout_id = invoices.payout_id
        and composition.source = invoices.stripe_object_id
    where invoices.stripe_object_id is null
    group by composition.payout_id
),

rolled_up as (
    select
        report.payout_id,
        report.currency,
        report.payout_amount_minor,
        coalesce(invoice_totals.net_minor, 0) as invoices_net_minor,
        coalesce(invoice_totals.object_count, 0) as invoice_objects,
        coalesce(unexplained.net_minor, 0) as other_net_minor,
        report.charges_gross_minor + report.refunds_minor + report.disputes_minor
        + report.failed_debits_minor + report.other_minor - report.fees_minor as items_minor
    from {{ batch }} as report
    left join invoice_totals
        on report.payout_id = invoice_totals.payout_id
    left join unexplained
        on report.payout_id = unexplained.payout_id
    where report.status in ('reconciled', 'variance', 'missing_deposit')
)

select
    cast(payout_id as varchar) as object_id,
    currency,
    payout_amount_minor as amount_minor,
    case
        when payout_amount_minor <> invoices_net_minor + other_net_minor
            then payout_amount_minor - invoices_net_minor - other_net_minor
        else payout_amount_minor - items_minor
    end as at_stake_minor,
    case
        when payout_amount_minor <> invoices_net_minor + other_net_minor
            then 'payout ' || cast(payout_amount_minor as varchar) || ' <> invoices'' net '
                || cast(invoices_net_minor as varchar) || ' (' || cast(invoice_objects as varchar)
                || ' charges and refunds) + other items'' net ' || cast(other_net_minor as varchar)
        else 'payout ' || cast(payout_amount_minor as varchar)
            || ' <> charges + refunds + disputes + failed debits + other - fees = ' || cast(items_minor as varchar)
    end as detail
from rolled_up
where
    payout_amount_minor <> invoices_net_minor + other_net_minor
    or payout_amount_minor <> items_minor
