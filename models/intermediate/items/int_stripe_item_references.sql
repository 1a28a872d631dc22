{#-
    One row per Stripe item and reference it carries, as keys the ERP side can be compared with:
    - `stripe_id`: the item's own ids, upper case (a charge: itself, its payment intent, the
      Stripe invoice it paid, its balance transaction; a refund: itself, its balance transaction
      and the charge it refunds; a returned debit: its balance transaction and the charge it
      takes back), since ERP memos and integrations write any of them, in any case;
    - `document_digits`: every run of three or more digits (or of digits joined by a dash, a
      slash or a dot) in the item's free text (description,
      metadata, the Stripe invoice's number, description and metadata; a refund's and its charge's),
      leading zeros dropped, Stripe-style ids left out: however an ERP document number was written
      (`INV-100231`, `inv 100231`, `Invoice #100231`), its digits are there.
-#}
with

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

refunds as (
    select * from {{ ref('stg_stripe__refunds') }}
    where status not in ('failed', 'canceled')
),

items as (
    select * from {{ ref('int_stripe_items_prepared') }}
),

own_ids as (
    select
        charge_id as stripe_object_id,
        'charge' as reference_source,
        charge_id as stripe_id
    from charges
    union all
    select
        charge_id as stripe_object_id,
        'payment_intent' as reference_source,
        payment_intent_id as stripe_id
    from charges
    union all
    select
        charge_id as stripe_object_id,
        'stripe_invoice' as reference_source,
        stripe_invoice_id as stripe_id
    from charges
    union all
    select
        charge_id as stripe_object_id,
        'balance_transaction' as reference_source,
        balance_transaction_id as stripe_id
    from charges
    union all
    select
        refund_id as stripe_object_id,
        'refund' as reference_source,
        refund_id as stripe_id
    from refunds
    union all
    select
        refund_id as stripe_object_id,
        'balance_transaction' as reference_source,
        balance_transaction_id as stripe_id
    from refunds
    union all
    select
        refund_id as stripe_object_id,
        'charge' as reference_source,
        charge_id as stripe_id
    from refunds
    union all
    select
        failure_balance_transaction_id as stripe_object_id,
        'balance_transaction' as reference_source,
        failure_balance_transaction_id as stripe_id
    from charges
    where has_failed_after_success
        and failure_balance_transaction_id is not null
    union all
    select
        failure_balance_transaction_id as stripe_object_id,
        'charge' as reference_source,
        charge_id as stripe_id
    from charges
    where has_failed_after_success
        and failure_balance_transaction_id is not null
),

text_without_ids as (
    select
        stripe_object_id,
        {{ regexp_replace_all('reference_text', '[A-Za-z]+_[A-Za-z0-9]+', ' ') }} as reference_text
    from items
),

-- Runs of digits, and runs joined by a dash, slash or dot (`SI-2025/0001`'s 20250001).
digit_runs as (
    select
        stripe_object_id,
        {{ regexp_each('reference_text', '[0-9]{3,}') }} as digit_run
    from text_without_ids
    union
    select
        stripe_object_id,
        {{ regexp_each('reference_text', '[0-9]+(?:[-/.][0-9]+)+') }} as digit_run
    from text_without_ids
),

references_found as (
    select distinct
        stripe_object_id,
        'stripe_id' as reference_kind,
        reference_source,
        upper(stripe_id) as reference_key
    from own_ids
    where stripe_id is not null
    union all
    select distinct
        stripe_object_id,
        'document_digits' as reference_kind,
        'text' as reference_source,
        {{ digits_key('digit_run') }} as reference_key
    from digit_runs
    where length({{ digits_key('digit_run') }}) >= 3
),

-- A number many items share (a year, a common amount, a batch number) is not a document
-- reference (macro without_repeated_document_digits).
final as (
    {{ without_repeated_document_digits('references_found', 'stripe_object_id') }}
)

select * from final
