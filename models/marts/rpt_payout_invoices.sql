{#-
    One row per payout, ERP document it settled and the Stripe charge or refund that links
    them: what a payout paid, invoice by invoice. Amounts are the balance transactions' (the
    payout's currency), split between documents in proportion to the matched amounts when a
    charge paid several.
-#}
with

settled as (
    select * from {{ ref('int_payout_balance_transactions_joined') }}
    where source_type in ('charge', 'refund')
),

matches as (
    select * from {{ ref('fct_reconciliation_matches') }}
    where match_type in ('charge_payment', 'refund_payment')
        and erp_document_number is not null
        and status <> 'rejected'
),

joined as (
    select
        settled.payout_id,
        matches.erp_document_number,
        matches.stripe_object_id,
        settled.currency,
        settled.amount_minor,
        settled.fee_minor,
        sum(matches.stripe_amount_minor) over (
            partition by settled.payout_id, matches.stripe_object_id
        ) as object_total_minor,
        -- The allocation so far, documents in a fixed order: each document gets the rounded
        -- cumulative share less the rounded share before it, so the parts always add up to
        -- the balance transaction exactly (no cent lost or made by rounding).
        sum(matches.stripe_amount_minor) over (
            partition by settled.payout_id, matches.stripe_object_id
            order by matches.erp_document_number, matches.erp_payment_number
            rows between unbounded preceding and current row
        ) as allocated_through_minor,
        sum(matches.stripe_amount_minor) over (
            partition by settled.payout_id, matches.stripe_object_id
            order by matches.erp_document_number, matches.erp_payment_number
            rows between unbounded preceding and current row
        ) - matches.stripe_amount_minor as allocated_before_minor
    from settled
    inner join matches
        on settled.source_id = matches.stripe_object_id
),

allocated as (
    select
        payout_id,
        erp_document_number,
        stripe_object_id,
        currency,
        case
            when object_total_minor = 0 then amount_minor
            else
                round(amount_minor * allocated_through_minor / cast(object_total_minor as {{ dbt.type_numeric() }}))
                - round(amount_minor * allocated_before_minor / cast(object_total_minor as {{ dbt.type_numeric() }}))
        end as gross_minor,
        case
            when object_total_minor = 0 then fee_minor
            else
                round(fee_minor * allocated_through_minor / cast(object_total_minor as {{ dbt.type_numeric() }}))
                - round(fee_minor * allocated_before_minor / cast(object_total_minor as {{ dbt.type_numeric() }}))
        end as fee_minor
    from joined
),

aggregated as (
    select
        payout_id,
        erp_document_number,
        stripe_object_id,
        currency,
        sum(gross_minor) as gross_minor,
        sum(fee_minor) as fee_minor
    from allocated
    group by payout_id, erp_document_number, stripe_object_id, currency
),

final as (
    select
        payout_id,
        erp_document_number,
        stripe_object_id,
        currency,
        cast(gross_minor as {{ dbt.type_bigint() }}) as gross_minor,
        cast(fee_minor as {{ dbt.type_bigint() }}) as fee_minor,
        cast(gross_minor - fee_minor as {{ dbt.type_bigint() }}) as net_minor
    from aggregated
)

select * from final
