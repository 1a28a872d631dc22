{#-
    One row per ERP payment, with the document it is applied to and the Stripe id and ERP
    document number its memo names (if any).
-#}
with

payments as (
    select * from {{ ref('stg_erp__payments') }}
),

documents as (
    select * from {{ ref('stg_erp__invoices') }}
),

names_keyed as (
    select * from {{ ref('int_customer_names_keyed') }}
),

enriched as (
    select
        payments.payment_number,
        payments.document_number,
        {{ reference_key('payments.document_number') }} as document_reference_key,
        payments.payment_date,
        payments.currency,
        payments.amount_minor,
        payments.payment_method,
        payments.is_stripe_payment,
        payments.memo,
        {{ regexp_first('payments.memo', '(ch|py|pi|re|dp|po|in|txn)_[A-Za-z0-9]+') }} as memo_stripe_id,
        documents.document_type,
        documents.customer_number,
        documents.customer_name,
        documents.customer_email,
        names_keyed.customer_name_key,
        names_keyed.customer_initials_key,
        documents.document_date,
        documents.currency as document_currency,
        documents.amount_minor as document_amount_minor,
        documents.status as document_status,
        documents.external_reference
    from payments
    left join documents
        on payments.document_number = documents.document_number
    left join names_keyed
        on documents.customer_name = names_keyed.customer_name
)

select * from enriched
