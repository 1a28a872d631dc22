{#-
    One row per Stripe payout: what is in it (gross charges, refunds, disputes, returned bank
    debits, fees, other) and whether the bank deposit agrees. status: `reconciled` (a deposit equal to the payout),
    `variance` (a deposit of another amount), `missing_deposit` (paid, no deposit found),
    `in_transit` (not arrived at the data's end), `failed` (failed or canceled).
    unexplained_minor: the deposit (or, without one, the payout) minus what the composition
    explains (gross + refunds + disputes + failed debits + other - fees).
    The bank's side (int_bank_payouts_received): bank_status, and the lines, amount and value
    date the bank statements show of the payout (`no_statement` when none covers it).
-#}
with

payouts as (
    select * from {{ ref('int_payouts_summarized') }}
),

deposits as (
    select * from {{ ref('fct_reconciliation_matches') }}
    where match_type = 'payout_deposit'
),

bank as (
    select * from {{ ref('int_bank_payouts_received') }}
),

payout_invoices as (
    select * from {{ ref('rpt_payout_invoices') }}
),

invoice_counts as (
    select
        payout_id,
        count(distinct erp_document_number) as invoice_count
    from payout_invoices
    group by payout_id
),

final as (
    select
        payouts.payout_id,
        payouts.arrival_date,
        payouts.currency,
        cast(payouts.payout_amount_minor as {{ dbt.type_bigint() }}) as payout_amount_minor,
        cast(payouts.charges_gross_minor as {{ dbt.type_bigint() }}) as charges_gross_minor,
        cast(payouts.refunds_minor as {{ dbt.type_bigint() }}) as refunds_minor,
        cast(payouts.disputes_minor as {{ dbt.type_bigint() }}) as disputes_minor,
        cast(payouts.fees_minor as {{ dbt.type_bigint() }}) as fees_minor,
        cast(payouts.other_minor as {{ dbt.type_bigint() }}) as other_minor,
        cast(coalesce(invoice_counts.invoice_count, 0) as {{ dbt.type_bigint() }}) as invoice_count,
        deposits.erp_journal_number,
        cast(deposits.erp_amount_minor as {{ dbt.type_bigint() }}) as erp_deposit_amount_minor,
        cast(
            coalesce(deposits.erp_amount_minor, payouts.payout_amount_minor)
            - (
                payouts.charges_gross_minor + payouts.refunds_minor + payouts.disputes_minor
                + payouts.failed_debits_minor + payouts.other_minor - payouts.fees_minor
            )
            as {{ dbt.type_bigint() }}
        ) as unexplained_minor,
        case
            when payouts.status in ('failed', 'canceled') then 'failed'
            when payouts.status in ('pending', 'in_transit') then 'in_transit'
            when deposits.erp_journal_number is null then 'missing_deposit'
            when deposits.erp_amount_minor = payouts.payout_amount_minor then 'reconciled'
            else 'variance'
        end as status,
        payouts.status as stripe_status,
        cast(payouts.balance_transaction_count as {{ dbt.type_bigint() }}) as balance_transaction_count,
        bank.bank_status,
        bank.bank_line_count,
        bank.bank_amount_minor,
        bank.bank_value_date,
        -- added after the bank's columns: the contract's columns keep their places
        cast(payouts.failed_debits_minor as {{ dbt.type_bigint() }}) as failed_debits_minor
    from payouts
    left join deposits
        on payouts.payout_id = deposits.stripe_object_id
    left join invoice_counts
        on payouts.payout_id = invoice_counts.payout_id
    left join bank
        on payouts.payout_id = bank.payout_id
)

select * from final
