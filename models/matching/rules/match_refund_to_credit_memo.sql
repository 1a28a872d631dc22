{#-
    Rule: a Stripe refund and the ERP's credit memo with its negative payment.

    What it matches: an ERP Stripe payment with a negative amount (a refund paid out) on a
    credit memo, when
    - the payment's memo or the credit memo's external_reference names the refund (strongest);
    - or the memo says "Refund <invoice>" for an invoice the refunded charge names, with the
      refunded amount;
    - or the credit memo is the refunded customer's (same e-mail), for the refunded amount, in
      the refund's currency, within var refund_memo_days days of the refund.
    Why: a refund is booked as a credit memo and paid out as a negative receipt; ids are best,
    the invoice it reverses is next, who and how much is the fallback.
-#}
with

refunds as (
    select * from {{ ref('stg_stripe__refunds') }}
    where status = 'succeeded'
),

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

document_references as (
    select * from {{ ref('int_charge_documents_referenced') }}
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
    where is_stripe_payment
        and amount_minor < 0
),

by_id as (
    select
        refunds.refund_id,
        payments.payment_number,
        0.99 as confidence
    from refunds
    inner join payments
        on refunds.refund_id = payments.memo_stripe_id
    union all
    select
        refunds.refund_id,
        payments.payment_number,
        0.97 as confidence
    from refunds
    inner join payments
        on refunds.refund_id = payments.external_reference
),

by_invoice_in_memo as (
    select
        refunds.refund_id,
        payments.payment_number,
        0.92 as confidence
    from refunds
    inner join document_references
        on refunds.charge_id = document_references.charge_id
    inner join payments
        on document_references.document_number = payments.memo_document_number
        and refunds.currency = payments.currency
        and payments.amount_minor = -refunds.amount_minor
),

by_customer_amount as (
    select
        refunds.refund_id,
        payments.payment_number,
        0.85 as confidence
    from refunds
    inner join charges
        on refunds.charge_id = charges.charge_id
    inner join payments
        on refunds.currency = payments.currency
        and payments.amount_minor = -refunds.amount_minor
        and charges.customer_email = payments.customer_email
    where payments.payment_date
        between {{ dbt.dateadd('day', -var('refund_memo_days'), 'refunds.created_date') }}
        and {{ dbt.dateadd('day', var('refund_memo_days'), 'refunds.created_date') }}
),

pairs as (
    select
        refund_id,
        payment_number,
        max(confidence) as confidence
    from (
        select * from by_id
        union all
        select * from by_invoice_in_memo
        union all
        select * from by_customer_amount
    ) as found
    group by refund_id, payment_number
),

final as (
    select
        refunds.refund_id as stripe_object_id,
        payments.document_number as erp_document_number,
        payments.payment_number as erp_payment_number,
        cast(null as {{ dbt.type_string() }}) as erp_journal_number,
        'refund_payment' as match_type,
        'match_refund_to_credit_memo' as rule_name,
        case when pairs.confidence >= 0.97 then 10 else 40 end as priority,
        pairs.confidence,
        refunds.currency,
        refunds.amount_minor as stripe_amount_minor,
        payments.currency as erp_currency,
        -payments.amount_minor as erp_amount_minor,
        {{ days_between('refunds.created_date', 'payments.payment_date') }} as days_apart,
        false as allows_split
    from pairs
    inner join refunds
        on pairs.refund_id = refunds.refund_id
    inner join payments
        on pairs.payment_number = payments.payment_number
)

select * from final
