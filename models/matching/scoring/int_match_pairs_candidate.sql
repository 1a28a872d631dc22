{#-
    One row per candidate pair of a Stripe item (charge or refund) and an ERP payment that could
    settle it, found by blocking, never by comparing everything with everything:
    - the pair shares a reference: a Stripe id of the item written in the payment's memo or its
      document's external_reference, or the digits of a document number;
    - or the customer agrees (the same e-mail or customer name key) and so does the amount
      (equal, within rounding, or the net of Stripe's fee), the payment booked between var
      candidate_days_before days before and var candidate_days_after days after the item;
    - for the items and payments that have no pair of their amount yet: the customer agrees and
      the amount does not (a part of a split, a keying error) within the narrower window of vars
      candidate_amount_only_days_*, or the payment is in the currency the item settled in
      (booked converted) within the wide window; or only the amount agrees, within the narrow
      window (a customer written differently on each side). A recurring amount or a large
      customer meets hundreds of receipts a month, so what is already paired stays out.
    Each pair carries its evidence as levels (amount, days apart, e-mail, name, customer number,
    Stripe id, document number, payment method): the features the scorer learns weights for
    (ml/match_scorer.py) and that explain a scored match to a person.
-#}
{%- set tolerance = var('rounding_tolerance_minor') %}
with

items as (
    select * from {{ ref('int_stripe_items_prepared') }}
),

payments as (
    select
        payment_number,
        document_number,
        document_reference_key,
        case when amount_minor > 0 then 'charge_payment' else 'refund_payment' end as match_type,
        currency,
        abs(amount_minor) as amount_minor,
        payment_date,
        is_stripe_payment,
        customer_number,
        customer_email,
        customer_name_key,
        customer_initials_key
    from {{ ref('int_erp_payments_enriched') }}
    where amount_minor <> 0
        and (is_stripe_payment or payment_method is null)
),

item_references as (
    select * from {{ ref('int_stripe_item_references') }}
),

payment_references as (
    select * from {{ ref('int_erp_payment_references') }}
),

shared_references as {{ cte_materialized() }} (
    select
        item_references.stripe_object_id,
        payment_references.payment_number,
        max(case
            when item_references.reference_kind = 'stripe_id' and payment_references.reference_source = 'memo'
                then 1
            else 0
        end) as has_id_in_memo,
        max(case
            when item_references.reference_kind = 'stripe_id'
                and payment_references.reference_source = 'external_reference'
                then 1
            else 0
        end) as has_id_in_document,
        max(case
            when item_references.reference_kind = 'document_digits'
                and payment_references.reference_source = 'applied_document'
                then 1
            else 0
        end) as has_document_digits,
        max(case
            when item_references.reference_kind = 'document_digits' and payment_references.reference_source = 'memo'
                then 1
            else 0
        end) as has_memo_document_digits
    from item_references
    inner join payment_references
        on item_references.reference_key = payment_references.reference_key
        and item_references.reference_kind = payment_references.reference_kind
    group by item_references.stripe_object_id, payment_references.payment_number
),

amount_offsets as (
    {%- for offset in range(-tolerance, tolerance + 1) %}
        select {{ offset }} as amount_offset{{ " union all" if not loop.last }}
    {%- endfor %}
),

-- The amounts a receipt of the whole item may have: its own (within rounding), or its net of
-- Stripe's fee when the ERP booked what Stripe paid out.
item_amounts as (
    select
        items.stripe_object_id,
        items.match_type,
        items.currency,
        items.item_date,
        items.amount_minor + amount_offsets.amount_offset as amount_minor
    from items
    cross join amount_offsets
    union
    select
        stripe_object_id,
        match_type,
        currency,
        item_date,
        net_minor as amount_minor
    from items
    where object_type = 'charge'
        and settlement_currency = currency
),

item_customers as (
    select * from {{ ref('int_stripe_item_customer_keys') }}
),

payment_customers as (
    select * from {{ ref('int_erp_payment_customer_keys') }}
),

-- The same customer (e-mail or name key) and a whole amount, within the wide window: the key
-- and the amount are one join key (materialized, so the planner cannot first pair every
-- recurring amount with every receipt of it), and a common name costs nothing.
items_keyed as {{ cte_materialized() }} (
    select
        item_amounts.stripe_object_id,
        item_amounts.match_type,
        item_amounts.currency,
        item_amounts.item_date,
        item_amounts.amount_minor,
        item_customers.key_kind,
        item_customers.customer_key
    from item_amounts
    inner join item_customers
        on item_amounts.stripe_object_id = item_customers.stripe_object_id
    -- with the amount, an e-mail or a name key is enough; the coarse initials key serves the
    -- other amounts of what stays unpaired
    where item_customers.key_kind in ('email', 'name')
),

payments_keyed as {{ cte_materialized() }} (
    select
        payments.payment_number,
        payments.match_type,
        payments.currency,
        payments.payment_date,
        payments.amount_minor,
        payment_customers.key_kind,
        payment_customers.customer_key
    from payments
    inner join payment_customers
        on payments.payment_number = payment_customers.payment_number
),

by_customer_and_amount as (
    select distinct
        items_keyed.stripe_object_id,
        payments_keyed.payment_number
    from items_keyed
    inner join payments_keyed
        on items_keyed.match_type = payments_keyed.match_type
        and items_keyed.key_kind = payments_keyed.key_kind
        and items_keyed.customer_key = payments_keyed.customer_key
        and items_keyed.currency = payments_keyed.currency
        and items_keyed.amount_minor = payments_keyed.amount_minor
    where payments_keyed.payment_date
        between {{ dbt.dateadd('day', -var('candidate_days_before'), 'items_keyed.item_date') }}
        and {{ dbt.dateadd('day', var('candidate_days_after'), 'items_keyed.item_date') }}
),

known_pairs as {{ cte_materialized() }} (
    select
        stripe_object_id,
        payment_number
    from shared_references
    union
    select
        stripe_object_id,
        payment_number
    from by_customer_and_amount
),

-- Only the amount: for what has no pair of its amount yet (a customer written differently on
-- each side), within the narrow window. A recurring amount meets hundreds of receipts a month,
-- so the items and receipts already paired with their amount stay out of it.
whole_pairs as (
    select distinct
        known_pairs.stripe_object_id,
        known_pairs.payment_number
    from known_pairs
    inner join item_amounts
        on known_pairs.stripe_object_id = item_amounts.stripe_object_id
    inner join payments
        on known_pairs.payment_number = payments.payment_number
        and item_amounts.amount_minor = payments.amount_minor
        and item_amounts.currency = payments.currency
),

paired_items as (
    select distinct stripe_object_id from whole_pairs
),

paired_payments as (
    select distinct payment_number from whole_pairs
),

unpaired_item_amounts as {{ cte_materialized() }} (
    select item_amounts.*
    from item_amounts
    left join paired_items
        on item_amounts.stripe_object_id = paired_items.stripe_object_id
    where paired_items.stripe_object_id is null
),

unpaired_payments as {{ cte_materialized() }} (
    select payments.*
    from payments
    left join paired_payments
        on payments.payment_number = paired_payments.payment_number
    where paired_payments.payment_number is null
),

by_amount as (
    select
        unpaired_item_amounts.stripe_object_id,
        unpaired_payments.payment_number
    from unpaired_item_amounts
    inner join unpaired_payments
        on unpaired_item_amounts.match_type = unpaired_payments.match_type
        and unpaired_item_amounts.currency = unpaired_payments.currency
        and unpaired_item_amounts.amount_minor = unpaired_payments.amount_minor
    where unpaired_payments.payment_date
        between {{ dbt.dateadd('day', -var('candidate_amount_only_days_before'), 'unpaired_item_amounts.item_date') }}
        and {{ dbt.dateadd('day', var('candidate_amount_only_days_after'), 'unpaired_item_amounts.item_date') }}
),

unpaired_items_by_customer as {{ cte_materialized() }} (
    select
        items.stripe_object_id,
        items.match_type,
        items.currency,
        items.settlement_currency,
        items.amount_minor,
        items.settlement_amount_minor,
        items.item_date,
        item_customers.key_kind,
        item_customers.customer_key
    from items
    inner join item_customers
        on items.stripe_object_id = item_customers.stripe_object_id
    left join paired_items
        on items.stripe_object_id = paired_items.stripe_object_id
    where paired_items.stripe_object_id is null
),

unpaired_payments_keyed as {{ cte_materialized() }} (
    select payments_keyed.*
    from payments_keyed
    left join paired_payments
        on payments_keyed.payment_number = paired_payments.payment_number
    where paired_payments.payment_number is null
),

-- The same customer and another amount, for what has no pair of its amount: a part of a split,
-- a keying error (within the narrow window), or a booking in the settlement currency of about
-- the settled amount (var fx_variance_max_ratio, within the wide window; a common name meets
-- hundreds of receipts of other amounts in 55 days). What is already paired with its amount
-- stays out: a common name or a large customer would otherwise pair every charge with every
-- receipt of the days around it.
by_customer_other_amount as (
    select
        item_keys.stripe_object_id,
        payment_keys.payment_number
    from unpaired_items_by_customer as item_keys
    inner join unpaired_payments_keyed as payment_keys
        on item_keys.match_type = payment_keys.match_type
        and item_keys.key_kind = payment_keys.key_kind
        and item_keys.customer_key = payment_keys.customer_key
        and item_keys.currency = payment_keys.currency
    where payment_keys.amount_minor <> item_keys.amount_minor
        and payment_keys.payment_date
        between {{ dbt.dateadd('day', -var('candidate_amount_only_days_before'), 'item_keys.item_date') }}
        and {{ dbt.dateadd('day', var('candidate_amount_only_days_after'), 'item_keys.item_date') }}
    union
    select
        item_keys.stripe_object_id,
        payment_keys.payment_number
    from unpaired_items_by_customer as item_keys
    inner join unpaired_payments_keyed as payment_keys
        on item_keys.match_type = payment_keys.match_type
        and item_keys.key_kind = payment_keys.key_kind
        and item_keys.customer_key = payment_keys.customer_key
        and item_keys.settlement_currency = payment_keys.currency
    where item_keys.settlement_currency <> item_keys.currency
        and abs(payment_keys.amount_minor - item_keys.settlement_amount_minor)
        <= {{ var('fx_variance_max_ratio') }} * item_keys.settlement_amount_minor
        and payment_keys.payment_date
        between {{ dbt.dateadd('day', -var('candidate_days_before'), 'item_keys.item_date') }}
        and {{ dbt.dateadd('day', var('candidate_days_after'), 'item_keys.item_date') }}
),

pairs as (
    select
        stripe_object_id,
        payment_number
    from known_pairs
    union
    select
        stripe_object_id,
        payment_number
    from by_customer_other_amount
    union
    select
        stripe_object_id,
        payment_number
    from by_amount
),

-- What the analysts' rules settle with certainty (an id or a document number, the payment
-- claimed once) needs no score: only the pairs of an item or a payment a certain pair does not
-- settle go on, and, for the scorer to learn from, every pair of a sample of items (all of them
-- up to var match_training_sample_items, a share beyond), drawn by a stable hash.
rule_pairs as (
    select * from {{ ref('int_match_candidates_unioned') }}
    where match_type in ('charge_payment', 'refund_payment')
        and erp_payment_number is not null
),

certain_pairs as (
    select
        stripe_object_id,
        erp_payment_number as payment_number
    from rule_pairs
    group by stripe_object_id, erp_payment_number
    having max(confidence) >= 0.95
),

certain_items as (
    select distinct stripe_object_id from certain_pairs
),

certain_payments as (
    select distinct payment_number from certain_pairs
),

sample_size as (
    select
        case
            when count(*) <= {{ var('match_training_sample_items') }} then 1000
            else 1000.0 * {{ var('match_training_sample_items') }} / count(*)
        end as sample_buckets
    from items
),

considered_pairs as (
    select
        pairs.stripe_object_id,
        pairs.payment_number,
        {{ stable_bucket('pairs.stripe_object_id', 1000) }} < sample_size.sample_buckets as is_training_sample,
        certain_items.stripe_object_id is null or certain_payments.payment_number is null as is_unsettled
    from pairs
    cross join sample_size
    left join certain_items
        on pairs.stripe_object_id = certain_items.stripe_object_id
    left join certain_payments
        on pairs.payment_number = certain_payments.payment_number
),

kept_pairs as (
    select * from considered_pairs
    where is_unsettled
        or is_training_sample
),

-- Items whose text names some ERP document (of any payment): naming another one than the
-- payment's is evidence against the pair.
items_naming_documents as (
    select distinct item_references.stripe_object_id
    from item_references
    inner join payment_references
        on item_references.reference_key = payment_references.reference_key
    where item_references.reference_kind = 'document_digits'
        and payment_references.reference_kind = 'document_digits'
        and payment_references.reference_source = 'applied_document'
),

payments_naming_stripe_ids as (
    select distinct payment_number
    from payment_references
    where reference_kind = 'stripe_id'
),

joined as (
    select
        items.stripe_object_id,
        payments.payment_number,
        pairs.is_training_sample,
        payments.document_number,
        payments.document_reference_key,
        items.match_type,
        items.object_type,
        items.currency,
        items.amount_minor as stripe_amount_minor,
        payments.currency as erp_currency,
        payments.amount_minor as erp_amount_minor,
        items.item_date,
        items.item_at,
        payments.payment_date,
        -- a receipt booked while the item's money was not final yet (a bank debit clearing, seed
        -- payment_methods) is on time; days after that count from the day it was final
        case
            when payments.payment_date > items.item_date and payments.payment_date <= items.settled_date
                then 0
            when payments.payment_date > items.settled_date
                then {{ days_between('items.settled_date', 'payments.payment_date') }}
            else {{ days_between('items.item_date', 'payments.payment_date') }}
        end as days_apart,
        items.settlement_currency,
        items.settlement_amount_minor,
        items.net_minor,
        items.customer_email,
        items.stripe_customer_email,
        items.customer_name_key,
        items.stripe_customer_name_key,
        items.customer_initials_key,
        items.stripe_customer_initials_key,
        items.customer_metadata,
        items.reference_text_key,
        payments.customer_number as erp_customer_number,
        payments.customer_email as erp_customer_email,
        payments.customer_name_key as erp_customer_name_key,
        payments.customer_initials_key as erp_customer_initials_key,
        payments.is_stripe_payment,
        coalesce(shared_references.has_id_in_memo, 0) as has_id_in_memo,
        coalesce(shared_references.has_id_in_document, 0) as has_id_in_document,
        coalesce(shared_references.has_document_digits, 0) as has_document_digits,
        coalesce(shared_references.has_memo_document_digits, 0) as has_memo_document_digits,
        items_naming_documents.stripe_object_id is not null as item_names_documents,
        payments_naming_stripe_ids.payment_number is not null as payment_names_stripe_ids
    from kept_pairs as pairs
    inner join items
        on pairs.stripe_object_id = items.stripe_object_id
    inner join payments
        on pairs.payment_number = payments.payment_number
        and items.match_type = payments.match_type
    left join shared_references
        on pairs.stripe_object_id = shared_references.stripe_object_id
        and pairs.payment_number = shared_references.payment_number
    left join items_naming_documents
        on pairs.stripe_object_id = items_naming_documents.stripe_object_id
    left join payments_naming_stripe_ids
        on pairs.payment_number = payments_naming_stripe_ids.payment_number
),

levelled as (
    select
        joined.*,
        case
            when erp_currency = currency
                then
                    case
                        when erp_amount_minor = stripe_amount_minor then 'exact'
                        when abs(erp_amount_minor - stripe_amount_minor) <= {{ tolerance }} then 'rounding'
                        when settlement_currency = currency and erp_amount_minor = net_minor then 'net_of_fee'
                        when erp_amount_minor < stripe_amount_minor then 'part'
                        else 'more'
                    end
            when erp_currency = settlement_currency
                and abs(erp_amount_minor - settlement_amount_minor)
                <= {{ var('fx_variance_max_ratio') }} * settlement_amount_minor
                then 'converted'
            else 'other'
        end as amount_level,
        case
            when days_apart < -7 then 'before_8_plus'
            when days_apart < -1 then 'before_2_7'
            when days_apart = -1 then 'before_1'
            when days_apart = 0 then 'same_day'
            when days_apart = 1 then 'after_1'
            when days_apart <= 3 then 'after_2_3'
            when days_apart <= 7 then 'after_4_7'
            when days_apart <= 14 then 'after_8_14'
            when days_apart <= 31 then 'after_15_31'
            else 'after_32_plus'
        end as days_level,
        case
            when erp_customer_email is null or coalesce(customer_email, stripe_customer_email) is null then 'missing'
            when erp_customer_email in (customer_email, stripe_customer_email) then 'equal'
            else 'different'
        end as email_level,
        case
            when erp_customer_name_key is null or coalesce(customer_name_key, stripe_customer_name_key) is null
                then 'missing'
            when erp_customer_name_key in (customer_name_key, stripe_customer_name_key) then 'equal'
            when greatest(
                    {{ string_similarity('erp_customer_name_key', 'customer_name_key') }},
                    {{ string_similarity('erp_customer_name_key', 'stripe_customer_name_key') }}
                ) >= 0.9 then 'similar'
            when erp_customer_initials_key in (customer_initials_key, stripe_customer_initials_key) then 'initials'
            else 'different'
        end as name_level,
        case
            when erp_customer_number is null or customer_metadata is null then 'missing'
            when {{ dbt.position(dbt.concat(["'\"'", 'erp_customer_number', "'\"'"]), 'customer_metadata') }} > 0
                then 'found'
            else 'not_found'
        end as customer_number_level,
        case
            when has_id_in_memo = 1 then 'in_memo'
            when has_id_in_document = 1 then 'on_document'
            when payment_names_stripe_ids then 'other_id'
            else 'none'
        end as stripe_id_level,
        case
            when has_document_digits = 1
                and {{ dbt.position('document_reference_key', 'reference_text_key') }} > 0
                then 'named'
            when has_document_digits = 1 then 'digits'
            when has_memo_document_digits = 1 then 'in_memo'
            -- a refund's text includes its charge's, which names the invoice the credit memo
            -- reverses, not the credit memo: naming another document says nothing there
            when item_names_documents and object_type = 'charge' then 'other_document'
            else 'none'
        end as document_level,
        case when is_stripe_payment then 'stripe' else 'unknown' end as method_level
    from joined
),

final as (
    select
        stripe_object_id,
        payment_number,
        is_training_sample,
        document_number,
        match_type,
        object_type,
        currency,
        stripe_amount_minor,
        erp_currency,
        erp_amount_minor,
        item_at,
        days_apart,
        amount_level,
        days_level,
        email_level,
        name_level,
        customer_number_level,
        stripe_id_level,
        document_level,
        method_level
    from levelled
)

select * from final
