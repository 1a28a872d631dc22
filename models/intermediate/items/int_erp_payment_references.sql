{#-
    One row per ERP payment and reference it carries, as keys the Stripe side can be compared
    with:
    - `stripe_id`: every Stripe-style id (`ch_…`, `pi_…`, `in_…`, `re_…`, `txn_…`, any prefix) in the
      payment's memo or in its document's external_reference, upper case (bank and ERP exports
      often upper-case them);
    - `document_digits`: the digits of the document it is applied to, and every run of three or
      more digits in its memo (or of digits joined by a dash, a slash or a dot; Stripe-style ids
      left out), leading zeros dropped.
-#}
with

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
),

stripe_ids as (
    select
        payment_number,
        'memo' as reference_source,
        {{ stripe_ids_in('memo') }} as stripe_id
    from payments
    where memo is not null
    union all
    select
        payment_number,
        'external_reference' as reference_source,
        {{ stripe_ids_in('external_reference') }} as stripe_id
    from payments
    where external_reference is not null
),

memo_without_ids as (
    select
        payment_number,
        {{ regexp_replace_all('memo', '[A-Za-z]+_[A-Za-z0-9]+', ' ') }} as memo
    from payments
    where memo is not null
),

-- Runs of digits, and runs joined by a dash, slash or dot (`SI-2025/0001`'s 20250001).
memo_digit_runs as (
    select
        payment_number,
        {{ regexp_each('memo', '[0-9]{3,}') }} as digit_run
    from memo_without_ids
    union
    select
        payment_number,
        {{ regexp_each('memo', '[0-9]+(?:[-/.][0-9]+)+') }} as digit_run
    from memo_without_ids
),

document_digits as (
    select
        payment_number,
        'applied_document' as reference_source,
        {{ digits_key('document_number') }} as reference_key
    from payments
    where document_number is not null
    union all
    select
        payment_number,
        'memo' as reference_source,
        {{ digits_key('digit_run') }} as reference_key
    from memo_digit_runs
),

references_found as (
    select distinct
        payment_number,
        'stripe_id' as reference_kind,
        reference_source,
        upper(stripe_id) as reference_key
    from stripe_ids
    where stripe_id is not null
    union all
    select distinct
        payment_number,
        'document_digits' as reference_kind,
        reference_source,
        reference_key
    from document_digits
    where length(reference_key) >= 3
),

-- A number many items share (a year, a common amount, a batch number) is not a document
-- reference (macro without_repeated_document_digits).
final as (
    {{ without_repeated_document_digits('references_found', 'payment_number') }}
)

select * from final
