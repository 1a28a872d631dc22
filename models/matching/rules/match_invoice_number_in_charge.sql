{#-
    Rule: the charge names the ERP invoice.

    What it matches: a charge whose metadata `invoice_number`, description or Stripe invoice
    (metadata `erp_document_number`) names an ERP invoice, with the ERP Stripe payments
    applied to that invoice.
    Why: the checkout or billing integration wrote the invoice number on the charge. One charge
    may name several invoices (a consolidated payment: each is a row) and several charges may
    name one invoice (a partial payment: precedence pairs each payment with the charge of its
    amount).
-#}
with

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

document_references as (
    select * from {{ ref('int_charge_documents_referenced') }}
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
    where is_stripe_payment
        and amount_minor > 0
),

pairs as (
    select
        document_references.charge_id,
        payments.payment_number,
        case
            when payments.document_amount_minor = charges.amount_minor then 0.97
            else 0.93
        end as confidence
    from document_references
    inner join charges
        on document_references.charge_id = charges.charge_id
    inner join payments
        on document_references.document_number = payments.document_number
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_invoice_number_in_charge', priority=20) }}
)

select * from final
