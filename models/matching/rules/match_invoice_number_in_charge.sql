{#-
    Rule: the charge names the ERP document a payment is applied to.

    What it matches: a charge whose free text (description, any metadata value, the Stripe
    invoice it paid: its number, description and metadata) names the ERP document of a Stripe
    payment, in whatever form it was written (`INV-100231`, `inv 100231`, `Invoice #100231`):
    the document's digits appear as a number in the text, and either its whole reference
    (letters and digits) is in the text too, or its digits are long enough (five or more) not to
    be another number by chance.
    Why: the checkout or billing integration wrote the invoice number on the charge. One charge
    may name several invoices (a consolidated payment: each is a row) and several charges may
    name one invoice (instalments: the resolution pairs each payment with the charge of its
    amount).
-#}
with

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

items as (
    select * from {{ ref('int_stripe_items_prepared') }}
    where object_type = 'charge'
),

charge_digits as (
    select * from {{ ref('int_stripe_item_references') }}
    where reference_kind = 'document_digits'
),

payment_digits as (
    select * from {{ ref('int_erp_payment_references') }}
    where reference_kind = 'document_digits'
        and reference_source = 'applied_document'
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
    where is_stripe_payment
        and amount_minor > 0
),

named as (
    select
        charge_digits.stripe_object_id as charge_id,
        payments.payment_number,
        payments.amount_minor,
        payments.document_amount_minor,
        {{ dbt.position('payments.document_reference_key', 'items.reference_text_key') }} > 0
            as is_whole_reference_named,
        length(charge_digits.reference_key) as digit_count
    from charge_digits
    inner join payment_digits
        on charge_digits.reference_key = payment_digits.reference_key
    inner join payments
        on payment_digits.payment_number = payments.payment_number
    inner join items
        on charge_digits.stripe_object_id = items.stripe_object_id
    where items.currency = payments.currency
),

pairs as (
    select
        named.charge_id,
        named.payment_number,
        case
            when named.amount_minor = charges.amount_minor
                or named.document_amount_minor = charges.amount_minor then 0.97
            else 0.93
        end as confidence
    from named
    inner join charges
        on named.charge_id = charges.charge_id
    where named.is_whole_reference_named
        or named.digit_count >= 5
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_invoice_number_in_charge', priority=20) }}
)

select * from final
