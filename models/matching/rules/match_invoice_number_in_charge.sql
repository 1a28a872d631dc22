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

final as (
    select
        charges.charge_id as stripe_object_id,
        payments.document_number as erp_document_number,
        payments.payment_number as erp_payment_number,
        cast(null as {{ dbt.type_string() }}) as erp_journal_number,
        'charge_payment' as match_type,
        'match_invoice_number_in_charge' as rule_name,
        20 as priority,
        case
            when payments.document_amount_minor = charges.amount_minor then 0.97
            else 0.93
        end as confidence,
        charges.currency,
        charges.amount_minor as stripe_amount_minor,
        payments.currency as erp_currency,
        payments.amount_minor as erp_amount_minor,
        {{ days_between('charges.created_date', 'payments.payment_date') }} as days_apart,
        true as allows_split
    from document_references
    inner join charges
        on document_references.charge_id = charges.charge_id
    inner join payments
        on document_references.document_number = payments.document_number
)

select * from final
