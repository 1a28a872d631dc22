{#-
    One row per ERP receipt matched to a charge that pays several ERP invoices at once (one
    receipt for all), and each invoice it pays: a person books one receipt for a consolidated
    card payment, applied to one of the invoices or to none. The invoices are found by the
    bounded sum search (macro split_combinations) among, strongest first: the receipt's own
    invoice, those its memo names and those naming the charge's Stripe ids in their
    external_reference, those the charge's text names, and the charge's customer's
    invoices (same e-mail or name key) that no other receipt pays, dated within 45 days before to 5
    days after the charge; 2 to var split_max_parts of them adding up to the receipt exactly (or
    within rounding). Of the combinations, the one with the strongest evidence, then the fewest
    invoices, wins. Only a receipt for more than its own invoice (or applied to none) is searched:
    one for its invoice's amount pays that invoice, one for less pays part of it.
-#}
{%- set max_parts = var('split_max_parts') | int %}
{%- set member_order = [] %}
{%- for part in range(1, max_parts + 1) %}{% do member_order.append('member_' ~ part ~ ' asc') %}{% endfor %}
{%- set tolerance = var('rounding_tolerance_minor') %}
with

assigned as (
    select * from {{ ref('int_matches_assigned') }}
    where match_type = 'charge_payment'
        and erp_payment_number is not null
),

-- A charge matched to one receipt alone (several receipts: each pays its own invoice).
single_receipts as (
    select
        stripe_object_id,
        min(erp_payment_number) as payment_number
    from assigned
    group by stripe_object_id
    having count(*) = 1
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
),

names_keyed as (
    select * from {{ ref('int_customer_names_keyed') }}
),

invoices as (
    select
        invoices.document_number,
        invoices.currency,
        invoices.amount_minor,
        invoices.document_date,
        invoices.customer_email,
        names_keyed.customer_name_key,
        {{ digits_key('invoices.document_number') }} as document_digits
    from {{ ref('stg_erp__invoices') }} as invoices
    left join names_keyed
        on invoices.customer_name = names_keyed.customer_name
    where invoices.document_type = 'invoice'
),

invoice_keys as (
    select
        document_number,
        'email' as key_kind,
        customer_email as customer_key
    from invoices
    where customer_email is not null
    union all
    select
        document_number,
        'name' as key_kind,
        customer_name_key as customer_key
    from invoices
    where customer_name_key is not null
),

charge_keys as (
    select * from {{ ref('int_stripe_item_customer_keys') }}
    where key_kind in ('email', 'name')
),

payment_references as (
    select * from {{ ref('int_erp_payment_references') }}
    where reference_kind = 'document_digits'
        and reference_source = 'memo'
),

item_references as (
    select * from {{ ref('int_stripe_item_references') }}
    where reference_kind = 'document_digits'
),

item_ids as (
    select * from {{ ref('int_stripe_item_references') }}
    where reference_kind = 'stripe_id'
),

-- Invoices whose external_reference names a Stripe object (an integration wrote the charge or
-- payment intent it was paid by), as the payments' references are read.
invoice_ids_written as (
    select
        document_number,
        {{ stripe_ids_in('external_reference') }} as stripe_id
    from {{ ref('stg_erp__invoices') }}
    where document_type = 'invoice'
        and external_reference is not null
),

invoice_ids as (
    select distinct
        document_number,
        upper(stripe_id) as reference_key
    from invoice_ids_written
    where stripe_id is not null
),

items as (
    select * from {{ ref('int_stripe_items_prepared') }}
),

-- Receipts that pay more than their own invoice (or have none), matched to one charge alone.
receipts as {{ cte_materialized() }} (
    select
        assigned.payment_number,
        assigned.stripe_object_id,
        payments.document_number as applied_document_number,
        payments.currency,
        payments.amount_minor,
        items.item_date
    from single_receipts as assigned
    inner join payments
        on assigned.payment_number = payments.payment_number
    inner join items
        on assigned.stripe_object_id = items.stripe_object_id
    left join invoices as applied
        on payments.document_number = applied.document_number
    where payments.amount_minor > 0
        -- booked in the charge's currency: a receipt converted to another currency pays its
        -- own invoice, whose amount is in the charge's
        and payments.currency = items.currency
        and (applied.currency is null or applied.currency = payments.currency)
        -- a receipt for more than its own invoice, or applied to none (one for less is a part
        -- payment of its invoice)
        and coalesce(applied.amount_minor, 0) < payments.amount_minor
),

receipts_paying as (
    select distinct document_number
    from payments
    where document_number is not null
        and amount_minor > 0
),

-- The customer keys of the searched receipts' charges, and of the invoices no receipt pays: the
-- few receipts are keyed first, so a customer's key never pairs all charges with all invoices.
receipt_keys as {{ cte_materialized() }} (
    select
        receipts.payment_number,
        receipts.amount_minor as receipt_amount_minor,
        receipts.currency,
        receipts.item_date,
        charge_keys.key_kind,
        charge_keys.customer_key
    from receipts
    inner join charge_keys
        on receipts.stripe_object_id = charge_keys.stripe_object_id
),

unpaid_invoice_keys as {{ cte_materialized() }} (
    select
        invoices.document_number,
        invoices.currency,
        invoices.amount_minor,
        invoices.document_date,
        invoice_keys.key_kind,
        invoice_keys.customer_key
    from invoice_keys
    inner join invoices
        on invoice_keys.document_number = invoices.document_number
    left join receipts_paying
        on invoices.document_number = receipts_paying.document_number
    where receipts_paying.document_number is null
),

candidates as (
    select
        receipts.payment_number,
        receipts.amount_minor as receipt_amount_minor,
        invoices.document_number,
        invoices.amount_minor,
        3 as evidence
    from receipts
    inner join invoices
        on receipts.applied_document_number = invoices.document_number
    union all
    select
        receipts.payment_number,
        receipts.amount_minor as receipt_amount_minor,
        invoices.document_number,
        invoices.amount_minor,
        3 as evidence
    from receipts
    inner join payment_references
        on receipts.payment_number = payment_references.payment_number
    inner join invoices
        on payment_references.reference_key = invoices.document_digits
        and receipts.currency = invoices.currency
    union all
    select
        receipts.payment_number,
        receipts.amount_minor as receipt_amount_minor,
        invoices.document_number,
        invoices.amount_minor,
        3 as evidence
    from receipts
    inner join item_ids
        on receipts.stripe_object_id = item_ids.stripe_object_id
    inner join invoice_ids
        on item_ids.reference_key = invoice_ids.reference_key
    inner join invoices
        on invoice_ids.document_number = invoices.document_number
        and receipts.currency = invoices.currency
    union all
    select
        receipts.payment_number,
        receipts.amount_minor as receipt_amount_minor,
        invoices.document_number,
        invoices.amount_minor,
        2 as evidence
    from receipts
    inner join item_references
        on receipts.stripe_object_id = item_references.stripe_object_id
    inner join invoices
        on item_references.reference_key = invoices.document_digits
        and receipts.currency = invoices.currency
    union all
    select
        receipt_keys.payment_number,
        receipt_keys.receipt_amount_minor,
        unpaid_invoice_keys.document_number,
        unpaid_invoice_keys.amount_minor,
        1 as evidence
    from receipt_keys
    inner join unpaid_invoice_keys
        on receipt_keys.key_kind = unpaid_invoice_keys.key_kind
        and receipt_keys.customer_key = unpaid_invoice_keys.customer_key
        and receipt_keys.currency = unpaid_invoice_keys.currency
    where unpaid_invoice_keys.document_date
        between {{ dbt.dateadd('day', -45, 'receipt_keys.item_date') }}
        and {{ dbt.dateadd('day', 5, 'receipt_keys.item_date') }}
),

-- One row per receipt and invoice (its strongest evidence); per receipt its 8 best candidates.
distinct_candidates as (
    select
        payment_number,
        receipt_amount_minor,
        document_number,
        amount_minor,
        max(evidence) as evidence
    from candidates
    where amount_minor < receipt_amount_minor + {{ tolerance }}
    group by payment_number, receipt_amount_minor, document_number, amount_minor
),

ranked_candidates as (
    select
        distinct_candidates.*,
        row_number() over (
            partition by payment_number order by evidence desc, document_number asc
        ) as candidate_rank
    from distinct_candidates
),

bounded as (
    select * from ranked_candidates
    where candidate_rank <= 8
),

combinations as (
    {{ split_combinations('bounded', {
        'group': 'payment_number', 'member': 'document_number', 'amount': 'amount_minor',
        'target': 'receipt_amount_minor', 'score': 'evidence',
    }, max_parts, tolerance) }}
),

ranked_combinations as (
    select
        combinations.*,
        row_number() over (
            partition by group_key
            order by
                group_score desc, part_count asc, {{ member_order | join(", ") }}
        ) as combination_rank
    from combinations
),

best as (
    select * from ranked_combinations
    where combination_rank = 1
),

unpivoted as (
    {{ split_members('best', max_parts) }}
),

final as (
    select
        unpivoted.group_key as payment_number,
        unpivoted.member as document_number,
        bounded.amount_minor as document_amount_minor,
        unpivoted.group_score as evidence
    from unpivoted
    inner join bounded
        on unpivoted.group_key = bounded.payment_number
        and unpivoted.member = bounded.document_number
)

select * from final
