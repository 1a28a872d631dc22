{#-
    One row per pair an analyst confirmed (raw_decisions.match_decisions), in the shape of a
    matching rule, with priority 0: a confirmed pair is kept whatever the rules say and wins
    every conflict.
-#}
with

decisions as (
    select * from {{ ref('stg_decisions__match_decisions') }}
    where decision = 'confirmed'
),

charges as (
    select
        charge_id as stripe_object_id,
        'charge_payment' as match_type,
        currency,
        amount_minor,
        created_date
    from {{ ref('int_charges_enriched') }}
),

refunds as (
    select
        refund_id as stripe_object_id,
        'refund_payment' as match_type,
        currency,
        amount_minor,
        created_date
    from {{ ref('stg_stripe__refunds') }}
),

-- a returned debit's payment_failure_refund, which an ERP reversal of its receipt settles
debit_returns as (
    select
        failure_balance_transaction_id as stripe_object_id,
        'refund_payment' as match_type,
        currency,
        amount_minor,
        failed_date as created_date
    from {{ ref('int_charges_enriched') }}
    where has_failed_after_success
        and failure_balance_transaction_id is not null
),

payouts as (
    select
        payout_id as stripe_object_id,
        'payout_deposit' as match_type,
        currency,
        amount_minor,
        arrival_date as created_date
    from {{ ref('stg_stripe__payouts') }}
),

stripe_objects as (
    select * from charges
    union all
    select * from refunds
    union all
    select * from debit_returns
    union all
    select * from payouts
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
),

deposits as (
    select * from {{ ref('int_gl_deposits_identified') }}
),

final as (
    select
        decisions.stripe_object_id,
        coalesce(decisions.erp_document_number, payments.document_number) as erp_document_number,
        decisions.erp_payment_number,
        decisions.erp_journal_number,
        stripe_objects.match_type,
        'human_decision' as rule_name,
        0 as priority,
        1.0 as confidence,
        stripe_objects.currency,
        stripe_objects.amount_minor as stripe_amount_minor,
        coalesce(payments.currency, deposits.currency) as erp_currency,
        coalesce(
            case
                when stripe_objects.match_type = 'refund_payment' then -payments.amount_minor
                else payments.amount_minor
            end,
            deposits.deposit_amount_minor
        ) as erp_amount_minor,
        {{ days_between('stripe_objects.created_date', 'coalesce(payments.payment_date, deposits.posting_date)') }}
            as days_apart,
        true as allows_split
    from decisions
    inner join stripe_objects
        on decisions.stripe_object_id = stripe_objects.stripe_object_id
    left join payments
        on decisions.erp_payment_number = payments.payment_number
    left join deposits
        on decisions.erp_journal_number = deposits.journal_number
    where payments.payment_number is not null
        or deposits.journal_number is not null
)

select * from final
