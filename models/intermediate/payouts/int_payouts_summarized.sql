{#-
    One row per Stripe payout: what it settled, by reporting category, in the payout's
    currency (minor units), and whether the composition adds up to the payout amount.
-#}
with

payouts as (
    select * from {{ ref('stg_stripe__payouts') }}
),

settled as (
    select * from {{ ref('int_payout_balance_transactions_joined') }}
),

composition_summed as (
    select
        payout_id,
        count(*) as balance_transaction_count,
        sum(case when reporting_category = 'charge' then amount_minor else 0 end)
            as charges_gross_minor,
        sum(case when reporting_category in ('refund', 'refund_failure') then amount_minor else 0 end)
            as refunds_minor,
        sum(case when reporting_category in ('dispute', 'dispute_reversal') then amount_minor else 0 end)
            as disputes_minor,
        -- a returned bank debit (ACH, SEPA): the payment_failure_refund taking the charge back
        sum(case when reporting_category = 'charge_failure' then amount_minor else 0 end)
            as failed_debits_minor,
        sum(fee_minor) as fees_minor,
        sum(
            case
                when reporting_category in (
                        'charge', 'refund', 'refund_failure', 'dispute', 'dispute_reversal', 'charge_failure'
                    )
                    then 0
                else amount_minor
            end
        ) as other_minor,
        sum(net_minor) as net_minor
    from settled
    group by payout_id
),

final as (
    select
        payouts.payout_id,
        payouts.currency,
        payouts.amount_minor as payout_amount_minor,
        payouts.status,
        payouts.is_automatic,
        payouts.failure_code,
        payouts.created_at,
        payouts.created_date,
        payouts.arrival_date,
        coalesce(composition_summed.balance_transaction_count, 0) as balance_transaction_count,
        coalesce(composition_summed.charges_gross_minor, 0) as charges_gross_minor,
        coalesce(composition_summed.refunds_minor, 0) as refunds_minor,
        coalesce(composition_summed.disputes_minor, 0) as disputes_minor,
        coalesce(composition_summed.failed_debits_minor, 0) as failed_debits_minor,
        coalesce(composition_summed.fees_minor, 0) as fees_minor,
        coalesce(composition_summed.other_minor, 0) as other_minor,
        coalesce(composition_summed.net_minor, 0) as composition_net_minor
    from payouts
    left join composition_summed
        on payouts.payout_id = composition_summed.payout_id
)

select * from final
