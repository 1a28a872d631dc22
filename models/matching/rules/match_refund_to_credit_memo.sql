{#-
    Rule: a Stripe refund and the ERP's refund paid out (a negative Stripe payment, usually on a
    credit memo); and, alike, a returned bank debit (its `payment_failure_refund` balance
    transaction) and the ERP's reversal of the debit's receipt (a negative Stripe payment on the
    invoice the debit paid).

    What it matches, strongest first:
    - the payment's memo or its document's external_reference names the refund, its balance
      transaction or the refunded charge, in any case, for the refunded amount;
    - the refund's text or its charge's (metadata, description: a credit memo number, the
      invoice it reverses) names the payment's document or a document its memo names, for the
      refunded amount (whole reference named, or five digits or more);
    - the refunded customer's payment (same e-mail or customer name key) for the refunded amount
      in the refund's currency, booked within var refund_memo_days days of the refund, before
      or after it (credit memos are dated either side of the refund).
    Why: a refund is booked as a credit memo and paid out as a negative receipt; ids are best,
    the documents it names are next, who and how much is the fallback. A returned debit is money
    going back to the customer too, and an ERP reverses its receipt the same way: the memo names
    the charge or the return's balance transaction, or the document is the invoice the charge's
    text names, or it is the customer's negative receipt of the charge's amount near the return.
-#}
with

items as (
    select * from {{ ref('int_stripe_items_prepared') }}
    where object_type in ('refund', 'debit_return')
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
    where is_stripe_payment
        and amount_minor < 0
),

item_references as (
    select * from {{ ref('int_stripe_item_references') }}
),

payment_references as (
    select * from {{ ref('int_erp_payment_references') }}
),

by_id as (
    select
        items.stripe_object_id as refund_id,
        payments.payment_number,
        case item_references.reference_source
            when 'refund' then 0.99
            when 'balance_transaction' then 0.97
            else 0.95
        end as confidence
    from item_references
    inner join payment_references
        on item_references.reference_key = payment_references.reference_key
    inner join items
        on item_references.stripe_object_id = items.stripe_object_id
    inner join payments
        on payment_references.payment_number = payments.payment_number
    where item_references.reference_kind = 'stripe_id'
        and payment_references.reference_kind = 'stripe_id'
        -- an id is trusted with the refunded amount (within rounding); else the scored
        -- matching weighs it (a typo, another refund of the same charge)
        and items.currency = payments.currency
        and abs(payments.amount_minor + items.amount_minor) <= {{ var('rounding_tolerance_minor') }}
),

by_document as (
    select
        items.stripe_object_id as refund_id,
        payments.payment_number,
        0.92 as confidence
    from item_references
    inner join payment_references
        on item_references.reference_key = payment_references.reference_key
    inner join items
        on item_references.stripe_object_id = items.stripe_object_id
    inner join payments
        on payment_references.payment_number = payments.payment_number
    where item_references.reference_kind = 'document_digits'
        and payment_references.reference_kind = 'document_digits'
        and items.currency = payments.currency
        and payments.amount_minor = -items.amount_minor
        and (
            length(item_references.reference_key) >= 5
            or {{ dbt.position('payments.document_reference_key', 'items.reference_text_key') }} > 0
        )
),

by_customer_amount as (
    select
        items.stripe_object_id as refund_id,
        payments.payment_number,
        0.85 as confidence
    from items
    inner join payments
        on items.currency = payments.currency
        and payments.amount_minor = -items.amount_minor
    where (
        payments.customer_email in (items.customer_email, items.stripe_customer_email)
        or payments.customer_name_key in (items.customer_name_key, items.stripe_customer_name_key)
    )
    and payments.payment_date
    between {{ dbt.dateadd('day', -var('refund_memo_days'), 'items.item_date') }}
    and {{ dbt.dateadd('day', var('refund_memo_days'), 'items.item_date') }}
),

pairs as (
    select
        refund_id,
        payment_number,
        max(confidence) as confidence
    from (
        select * from by_id
        union all
        select * from by_document
        union all
        select * from by_customer_amount
    ) as found
    group by refund_id, payment_number
),

final as (
    select
        items.stripe_object_id,
        payments.document_number as erp_document_number,
        payments.payment_number as erp_payment_number,
        cast(null as {{ dbt.type_string() }}) as erp_journal_number,
        'refund_payment' as match_type,
        'match_refund_to_credit_memo' as rule_name,
        case when pairs.confidence >= 0.97 then 10 else 40 end as priority,
        pairs.confidence,
        items.currency,
        items.amount_minor as stripe_amount_minor,
        payments.currency as erp_currency,
        -payments.amount_minor as erp_amount_minor,
        {{ days_between('items.item_date', 'payments.payment_date') }} as days_apart,
        false as allows_split
    from pairs
    inner join items
        on pairs.refund_id = items.stripe_object_id
    inner join payments
        on pairs.payment_number = payments.payment_number
)

select * from final
