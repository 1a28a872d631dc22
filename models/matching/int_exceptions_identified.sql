{#-
    One row per item that did not reconcile, with a rule-based exception_type (docs/contract.md
    section 5 vocabulary) and the features a classifier needs. Rules, in order:
    - a charge that succeeded and failed later (a bank debit returned: Stripe's
      payment_failure_refund) matched to an ERP receipt that the ERP did not reverse (no negative
      receipt matched to the return): `debit_failed_after_booking` (the books hold money the bank
      took back); not booked in the ERP, or booked and reversed, it is no exception (nothing to
      undo); the reversal itself is checked as a refund paid out is (its amount, its period), and
      a return nobody reversed is the charge's exception, not a second one;
    - a succeeded charge with no ERP payment: `duplicate_charge` when the same customer (the same
      Stripe customer, e-mail or customer name key) paid the same amount in the same currency
      within a day before and that charge is matched, else `missing_in_erp`;
    - a matched charge or refund whose ERP amount differs: in another currency within var
      fx_variance_max_ratio of what Stripe settled `fx_variance`; a difference of at most var
      rounding_tolerance_minor per line `rounding`; the ERP booked the net (gross minus the
      Stripe fee) `fee_variance`; else `amount_mismatch`;
    - a matched charge or refund with equal amounts whose ERP payment falls in another period
      `timing_difference`;
    - a refund with no ERP payment `missing_in_erp`; a dispute with no chargeback journal
      `unrecorded_dispute`;
    - a payout: failed or canceled `failed_payout`; not yet arrived `timing_difference`; paid
      with no deposit `missing_deposit`; deposit of another amount `amount_mismatch`;
    - an ERP Stripe payment nobody matched: `duplicate_erp_entry` when an earlier payment has
      the same document, date, currency, amount and memo, else `missing_in_stripe`;
    - an ERP bank deposit of a Stripe payout (memo names Stripe or a payout) that no payout
      matched: `missing_in_stripe` (the payout is not in the Stripe data, for instance not
      loaded yet).
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

disputes as (
    select * from {{ ref('stg_stripe__disputes') }}
),

payouts as (
    select * from {{ ref('stg_stripe__payouts') }}
),

payments as (
    select * from {{ ref('int_erp_payments_enriched') }}
),

deposits as (
    select * from {{ ref('int_gl_deposits_identified') }}
),

matches as (
    select * from {{ ref('int_matches_resolved') }}
),

matched_objects as (
    select
        match_type,
        stripe_object_id,
        max(erp_currency) as erp_currency,
        min(erp_currency) as min_erp_currency,
        sum(erp_amount_minor) as erp_amount_minor,
        min(erp_payment_number) as erp_payment_number,
        min(erp_journal_number) as erp_journal_number,
        max(days_apart) as days_apart,
        max(confidence) as match_confidence
    from matches
    group by match_type, stripe_object_id
),

matched_payment_dates as (
    select
        matches.stripe_object_id,
        max(payments.payment_date) as payment_date,
        max(payments.memo) as memo
    from matches
    inner join payments
        on matches.erp_payment_number = payments.payment_number
    group by matches.stripe_object_id
),

customer_history as (
    select
        customer_email,
        count(*) as customer_charge_count
    from charges
    group by customer_email
),

-- Unmatched charges repeating a matched charge of the same customer, currency and amount made
-- within the day before (a duplicate_charge; only an unmatched charge can be one).
-- Each charge with each key its customer is known by (the Stripe customer, the e-mail, the name
-- key) and its currency and amount, so a repeated charge is found by one selective join on all of
-- them (joining on the key alone first paired every charge with every other charge of a common
-- name: hundreds of millions of rows at 1M charges).
customer_keys as (
    select
        charge_id,
        'customer' as key_kind,
        customer_id as customer_key
    from charges
    where customer_id is not null
    union
    select
        charge_id,
        'email' as key_kind,
        customer_email as customer_key
    from charges
    where customer_email is not null
    union
    select
        stripe_object_id as charge_id,
        'name' as key_kind,
        customer_name_key as customer_key
    from items
    where object_type = 'charge'
        and customer_name_key is not null
),

keyed_charges as {{ cte_materialized() }} (
    select
        charges.charge_id,
        charges.currency,
        charges.amount_minor,
        charges.created_at,
        customer_keys.key_kind,
        customer_keys.customer_key
    from charges
    inner join customer_keys
        on charges.charge_id = customer_keys.charge_id
    -- a returned debit neither repeats a charge nor is repeated: the money went back
    where not charges.has_failed_after_success
),

matched_charges as (
    select distinct stripe_object_id as charge_id
    from matched_objects
    where match_type = 'charge_payment'
),

unmatched_keyed as {{ cte_materialized() }} (
    select keyed_charges.*
    from keyed_charges
    left join matched_charges
        on keyed_charges.charge_id = matched_charges.charge_id
    where matched_charges.charge_id is null
),

matched_keyed as {{ cte_materialized() }} (
    select keyed_charges.*
    from keyed_charges
    inner join matched_charges
        on keyed_charges.charge_id = matched_charges.charge_id
),

repeated_charges as (
    select distinct unmatched_keyed.charge_id
    from unmatched_keyed
    inner join matched_keyed as earlier
        on unmatched_keyed.key_kind = earlier.key_kind
        and unmatched_keyed.customer_key = earlier.customer_key
        and unmatched_keyed.currency = earlier.currency
        and unmatched_keyed.amount_minor = earlier.amount_minor
    where earlier.created_at < unmatched_keyed.created_at
        and earlier.created_at >= {{ dbt.dateadd('day', -1, 'unmatched_keyed.created_at') }}
),

charges_checked as (
    select
        charges.charge_id as object_id,
        'stripe' as side,
        'charge' as object_type,
        charges.currency,
        charges.amount_minor,
        charges.created_date as stripe_date,
        charges.customer_email,
        charges.fee_minor,
        charges.net_minor,
        charges.settlement_currency,
        charges.settlement_amount_minor,
        charges.exchange_rate,
        matched_objects.stripe_object_id is not null as is_matched,
        matched_objects.erp_currency,
        matched_objects.erp_amount_minor,
        matched_objects.erp_payment_number as erp_reference,
        matched_objects.days_apart,
        matched_payment_dates.payment_date as erp_date,
        matched_payment_dates.memo,
        case
            when matched_objects.stripe_object_id is null then null
            when matched_objects.erp_currency = charges.currency
                then matched_objects.erp_amount_minor - charges.amount_minor
            when matched_objects.erp_currency = charges.settlement_currency
                then matched_objects.erp_amount_minor - charges.settlement_amount_minor
        end as difference_minor,
        case
            when matched_objects.erp_currency = charges.currency then charges.currency
            else matched_objects.erp_currency
        end as difference_currency,
        repeated_charges.charge_id is not null as has_earlier_same_charge,
        charges.has_failed_after_success,
        erp_reversals.stripe_object_id is not null as is_reversed_in_erp
    from charges
    left join matched_objects
        on charges.charge_id = matched_objects.stripe_object_id
        and matched_objects.match_type = 'charge_payment'
    left join matched_payment_dates
        on charges.charge_id = matched_payment_dates.stripe_object_id
    left join repeated_charges
        on charges.charge_id = repeated_charges.charge_id
    left join matched_objects as erp_reversals
        on charges.failure_balance_transaction_id = erp_reversals.stripe_object_id
        and erp_reversals.match_type = 'refund_payment'
),

refunds_checked as (
    select
        refunds.refund_id as object_id,
        'stripe' as side,
        'refund' as object_type,
        refunds.currency,
        refunds.amount_minor,
        refunds.created_date as stripe_date,
        charges.customer_email,
        cast(0 as {{ dbt.type_bigint() }}) as fee_minor,
        cast(null as {{ dbt.type_bigint() }}) as net_minor,
        cast(null as {{ dbt.type_string() }}) as settlement_currency,
        cast(null as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        charges.exchange_rate,
        matched_objects.stripe_object_id is not null as is_matched,
        matched_objects.erp_currency,
        matched_objects.erp_amount_minor,
        matched_objects.erp_payment_number as erp_reference,
        matched_objects.days_apart,
        matched_payment_dates.payment_date as erp_date,
        matched_payment_dates.memo,
        case
            when matched_objects.erp_currency = refunds.currency
                then matched_objects.erp_amount_minor - refunds.amount_minor
        end as difference_minor,
        refunds.currency as difference_currency,
        false as has_earlier_same_charge,
        false as has_failed_after_success,
        false as is_reversed_in_erp
    from refunds
    left join charges
        on refunds.charge_id = charges.charge_id
    left join matched_objects
        on refunds.refund_id = matched_objects.stripe_object_id
        and matched_objects.match_type = 'refund_payment'
    left join matched_payment_dates
        on refunds.refund_id = matched_payment_dates.stripe_object_id
),

-- A returned debit's payment_failure_refund: checked only when the ERP reversed the receipt
-- (matched); a return nobody reversed is its charge's `debit_failed_after_booking`.
debit_returns_checked as (
    select
        items.stripe_object_id as object_id,
        'stripe' as side,
        'debit_return' as object_type,
        items.currency,
        items.amount_minor,
        items.item_date as stripe_date,
        items.customer_email,
        cast(0 as {{ dbt.type_bigint() }}) as fee_minor,
        cast(null as {{ dbt.type_bigint() }}) as net_minor,
        cast(null as {{ dbt.type_string() }}) as settlement_currency,
        cast(null as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        charges.exchange_rate,
        true as is_matched,
        matched_objects.erp_currency,
        matched_objects.erp_amount_minor,
        matched_objects.erp_payment_number as erp_reference,
        matched_objects.days_apart,
        matched_payment_dates.payment_date as erp_date,
        matched_payment_dates.memo,
        case
            when matched_objects.erp_currency = items.currency
                then matched_objects.erp_amount_minor - items.amount_minor
        end as difference_minor,
        items.currency as difference_currency,
        false as has_earlier_same_charge,
        false as has_failed_after_success,
        false as is_reversed_in_erp
    from items
    inner join matched_objects
        on items.stripe_object_id = matched_objects.stripe_object_id
        and matched_objects.match_type = 'refund_payment'
    left join charges
        on items.charge_id = charges.charge_id
    left join matched_payment_dates
        on items.stripe_object_id = matched_payment_dates.stripe_object_id
    where items.object_type = 'debit_return'
),

stripe_items as (
    select * from charges_checked
    union all
    select * from refunds_checked
    union all
    select * from debit_returns_checked
),

stripe_items_typed as (
    select
        stripe_items.*,
        case
            when has_failed_after_success and is_matched and not is_reversed_in_erp
                then 'debit_failed_after_booking'
            when has_failed_after_success then null
            when not is_matched and object_type = 'charge' and has_earlier_same_charge
                then 'duplicate_charge'
            when not is_matched then 'missing_in_erp'
            when erp_currency <> currency
                and settlement_amount_minor is not null
                and erp_currency = settlement_currency
                and abs(difference_minor)
                <= {{ var('fx_variance_max_ratio') }} * abs(settlement_amount_minor)
                then 'fx_variance'
            when difference_minor is null then 'amount_mismatch'
            when difference_minor = 0 and {{ period_of('stripe_date') }} <> {{ period_of('erp_date') }}
                then 'timing_difference'
            when difference_minor = 0 then null
            when abs(difference_minor) <= {{ var('rounding_tolerance_minor') }} then 'rounding'
            when settlement_currency = currency and difference_minor = -fee_minor then 'fee_variance'
            else 'amount_mismatch'
        end as exception_type
    from stripe_items
),

disputes_unbooked as (
    select
        disputes.dispute_id as object_id,
        'stripe' as side,
        'dispute' as object_type,
        disputes.currency,
        disputes.amount_minor,
        disputes.created_date as stripe_date,
        'unrecorded_dispute' as exception_type
    from disputes
    left join matched_objects
        on disputes.dispute_id = matched_objects.stripe_object_id
        and matched_objects.match_type = 'dispute_chargeback'
    where matched_objects.stripe_object_id is null
),

payouts_checked as (
    select
        payouts.payout_id as object_id,
        'stripe' as side,
        'payout' as object_type,
        payouts.currency,
        payouts.amount_minor,
        payouts.arrival_date as stripe_date,
        matched_objects.erp_amount_minor,
        matched_objects.erp_journal_number,
        case
            when payouts.status in ('failed', 'canceled') then 'failed_payout'
            when payouts.status in ('pending', 'in_transit') then 'timing_difference'
            when matched_objects.stripe_object_id is null then 'missing_deposit'
            when matched_objects.erp_amount_minor <> payouts.amount_minor then 'amount_mismatch'
        end as exception_type
    from payouts
    left join matched_objects
        on payouts.payout_id = matched_objects.stripe_object_id
        and matched_objects.match_type = 'payout_deposit'
),

erp_unmatched as (
    select payments.*
    from payments
    left join matches
        on payments.payment_number = matches.erp_payment_number
    where payments.is_stripe_payment
        and matches.erp_payment_number is null
),

erp_items_typed as (
    select
        erp_unmatched.payment_number as object_id,
        'erp' as side,
        'payment' as object_type,
        erp_unmatched.currency,
        abs(erp_unmatched.amount_minor) as amount_minor,
        erp_unmatched.payment_date as erp_date,
        erp_unmatched.memo,
        erp_unmatched.customer_email,
        cast(null as {{ dbt.type_string() }}) as erp_reference,
        case
            when exists (
                    select 1
                    from payments as earlier
                    where earlier.document_number = erp_unmatched.document_number
                        and earlier.payment_date = erp_unmatched.payment_date
                        and earlier.currency = erp_unmatched.currency
                        and earlier.amount_minor = erp_unmatched.amount_minor
                        and coalesce(earlier.memo, '') = coalesce(erp_unmatched.memo, '')
                        and earlier.payment_number < erp_unmatched.payment_number
                ) then 'duplicate_erp_entry'
            else 'missing_in_stripe'
        end as exception_type
    from erp_unmatched
),

deposits_unmatched as (
    select
        deposits.journal_number as object_id,
        'erp' as side,
        'deposit' as object_type,
        deposits.currency,
        deposits.deposit_amount_minor as amount_minor,
        deposits.posting_date as erp_date,
        deposits.memo,
        cast(null as {{ dbt.type_string() }}) as customer_email,
        deposits.journal_number as erp_reference,
        'missing_in_stripe' as exception_type
    from deposits
    left join matches
        on deposits.journal_number = matches.erp_journal_number
        and matches.match_type = 'payout_deposit'
    where deposits.is_stripe_deposit
        and matches.erp_journal_number is null
),

erp_items as (
    -- the two CTEs above list the same columns in the same order
    select * from erp_items_typed
    union all
    select * from deposits_unmatched
),

unioned as (
    select
        object_id,
        side,
        object_type,
        exception_type,
        currency,
        amount_minor,
        difference_minor,
        difference_currency,
        fee_minor,
        settlement_amount_minor,
        exchange_rate,
        days_apart,
        stripe_date,
        erp_date,
        erp_reference,
        memo,
        customer_email
    from stripe_items_typed
    where exception_type is not null
    union all
    select
        object_id,
        side,
        object_type,
        exception_type,
        currency,
        amount_minor,
        cast(null as {{ dbt.type_bigint() }}) as difference_minor,
        cast(null as {{ dbt.type_string() }}) as difference_currency,
        cast(null as {{ dbt.type_bigint() }}) as fee_minor,
        cast(null as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        cast(null as {{ dbt.type_numeric() }}) as exchange_rate,
        cast(null as integer) as days_apart,
        stripe_date,
        cast(null as date) as erp_date,
        cast(null as {{ dbt.type_string() }}) as erp_reference,
        cast(null as {{ dbt.type_string() }}) as memo,
        cast(null as {{ dbt.type_string() }}) as customer_email
    from disputes_unbooked
    union all
    select
        object_id,
        side,
        object_type,
        exception_type,
        currency,
        amount_minor,
        erp_amount_minor - amount_minor as difference_minor,
        currency as difference_currency,
        cast(null as {{ dbt.type_bigint() }}) as fee_minor,
        cast(null as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        cast(null as {{ dbt.type_numeric() }}) as exchange_rate,
        cast(null as integer) as days_apart,
        stripe_date,
        cast(null as date) as erp_date,
        erp_journal_number as erp_reference,
        cast(null as {{ dbt.type_string() }}) as memo,
        cast(null as {{ dbt.type_string() }}) as customer_email
    from payouts_checked
    where exception_type is not null
    union all
    select
        object_id,
        side,
        object_type,
        exception_type,
        currency,
        amount_minor,
        cast(null as {{ dbt.type_bigint() }}) as difference_minor,
        cast(null as {{ dbt.type_string() }}) as difference_currency,
        cast(null as {{ dbt.type_bigint() }}) as fee_minor,
        cast(null as {{ dbt.type_bigint() }}) as settlement_amount_minor,
        cast(null as {{ dbt.type_numeric() }}) as exchange_rate,
        cast(null as integer) as days_apart,
        cast(null as date) as stripe_date,
        erp_date,
        erp_reference,
        memo,
        customer_email
    from erp_items
),

final as (
    select
        unioned.*,
        customer_history.customer_charge_count
    from unioned
    left join customer_history
        on unioned.customer_email = customer_history.customer_email
)

select * from final
