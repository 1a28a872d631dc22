{#-
    Rule: one charge paying several invoices, or several charges paying one invoice, with no
    reference written anywhere.

    What it matches:
    - several charges of one customer (same e-mail), currency and day whose amounts add up to
      one ERP invoice of that customer, each with the invoice's payment of its own amount;
    - one charge whose amount equals the sum of the invoices one customer (same e-mail) dated
      on one day in the charge's currency, each invoice with its payment.
    Why: customers pay in instalments or settle a batch of invoices at once; the sums tie the
    pieces together where no id does. Dates are windowed like the fuzzy rule's.
-#}
with

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
    where is_stripe_payment
        and amount_minor > 0
        and document_type = 'invoice'
),

charge_days as (
    select
        customer_email,
        currency,
        created_date,
        sum(amount_minor) as total_minor,
        count(*) as charge_count
    from charges
    where customer_email is not null
    group by customer_email, currency, created_date
    having count(*) > 1
),

documents as (
    select distinct
        document_number,
        customer_email,
        document_currency,
        document_amount_minor,
        document_date
    from payments
    where customer_email is not null
),

document_days as (
    select
        customer_email,
        document_currency,
        document_date,
        sum(document_amount_minor) as total_minor,
        count(*) as document_count
    from documents
    group by customer_email, document_currency, document_date
    having count(*) > 1
),

several_charges_one_invoice as (
    select
        charges.charge_id,
        payments.payment_number
    from charge_days
    inner join documents
        on charge_days.customer_email = documents.customer_email
        and charge_days.currency = documents.document_currency
        and charge_days.total_minor = documents.document_amount_minor
    inner join charges
        on charge_days.customer_email = charges.customer_email
        and charge_days.currency = charges.currency
        and charge_days.created_date = charges.created_date
    inner join payments
        on documents.document_number = payments.document_number
        and charges.amount_minor = payments.amount_minor
    where documents.document_date
        between {{ dbt.dateadd('day', -var('fuzzy_document_days_before'), 'charge_days.created_date') }}
        and {{ dbt.dateadd('day', var('fuzzy_document_days_after'), 'charge_days.created_date') }}
),

one_charge_several_invoices as (
    select
        charges.charge_id,
        payments.payment_number
    from document_days
    inner join charges
        on document_days.customer_email = charges.customer_email
        and document_days.document_currency = charges.currency
        and document_days.total_minor = charges.amount_minor
    inner join documents
        on document_days.customer_email = documents.customer_email
        and document_days.document_currency = documents.document_currency
        and document_days.document_date = documents.document_date
    inner join payments
        on documents.document_number = payments.document_number
    where document_days.document_date
        between {{ dbt.dateadd('day', -var('fuzzy_document_days_before'), 'charges.created_date') }}
        and {{ dbt.dateadd('day', var('fuzzy_document_days_after'), 'charges.created_date') }}
),

pairs as (
    select
        charge_id,
        payment_number,
        0.85 as confidence
    from several_charges_one_invoice
    union
    select
        charge_id,
        payment_number,
        0.85 as confidence
    from one_charge_several_invoices
),

final as (
    {{ charge_payment_matches('pairs', rule_name='match_split_payments', priority=30) }}
)

select * from final
