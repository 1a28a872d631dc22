{#-
    One row per dispute and the ERP chargeback journal that names the disputed charge's document
    instead of an id: a journal debiting the chargebacks account, which no id-based pair took,
    whose lines name (in their document_number, or in the memo's numbers) the ERP document the
    disputed charge was matched to, for the disputed amount: in the dispute's currency, or what
    the dispute withdrew from the balance in the balance currency (a dispute in another currency
    is booked converted).
    Why: ERPs book a chargeback against the invoice it reverses ("Chargeback INV-100016"); the
    link to Stripe is then the charge's match, known once charges are assigned.
-#}
with

disputes as (
    select * from {{ ref('stg_stripe__disputes') }}
),

chargebacks as (
    select * from {{ ref('int_gl_chargebacks_identified') }}
),

withdrawals as (
    select
        source_id as dispute_id,
        currency as settlement_currency,
        -sum(amount_minor) as settlement_amount_minor
    from {{ ref('int_balance_transactions_joined') }}
    where source_type = 'dispute'
        and amount_minor < 0
    group by source_id, currency
),

lines as (
    select * from {{ ref('int_gl_lines_classified') }}
),

assigned as (
    select * from {{ ref('int_matches_assigned') }}
),

-- Runs of three or more digits in a memo (Stripe-style ids left out), one row each: a CTE of
-- their own, as Spark allows no function around a set-returning one.
memo_digit_runs as (
    select
        journal_number,
        {{ regexp_each(regexp_replace_all('memo', '[A-Za-z]+_[A-Za-z0-9]+', ' '), '[0-9]{3,}') }} as digit_run
    from lines
    where memo is not null
),

journal_documents as (
    select distinct
        journal_number,
        {{ digits_key('document_number') }} as document_digits
    from lines
    where document_number is not null
    union
    select distinct
        journal_number,
        {{ digits_key('digit_run') }}
    from memo_digit_runs
),

free_chargebacks as (
    select chargebacks.*
    from chargebacks
    left join assigned
        on chargebacks.journal_number = assigned.erp_journal_number
        and assigned.match_type = 'dispute_chargeback'
    where assigned.erp_journal_number is null
),

free_disputes as (
    select disputes.*
    from disputes
    left join assigned
        on disputes.dispute_id = assigned.stripe_object_id
        and assigned.match_type = 'dispute_chargeback'
    where assigned.stripe_object_id is null
),

charge_documents as (
    select distinct
        stripe_object_id as charge_id,
        {{ digits_key('erp_document_number') }} as document_digits
    from assigned
    where match_type = 'charge_payment'
        and erp_document_number is not null
),

pairs as (
    select
        free_disputes.dispute_id,
        free_chargebacks.journal_number,
        free_disputes.currency,
        free_disputes.amount_minor,
        free_disputes.created_date,
        free_chargebacks.currency as erp_currency,
        free_chargebacks.chargeback_amount_minor,
        free_chargebacks.posting_date,
        row_number() over (
            partition by free_chargebacks.journal_number
            order by
                abs({{ days_between('free_disputes.created_date', 'free_chargebacks.posting_date') }}),
                free_disputes.dispute_id
        ) as journal_rank,
        row_number() over (
            partition by free_disputes.dispute_id
            order by
                abs({{ days_between('free_disputes.created_date', 'free_chargebacks.posting_date') }}),
                free_chargebacks.journal_number
        ) as dispute_rank
    from free_disputes
    inner join charge_documents
        on free_disputes.charge_id = charge_documents.charge_id
    inner join journal_documents
        on charge_documents.document_digits = journal_documents.document_digits
    inner join free_chargebacks
        on journal_documents.journal_number = free_chargebacks.journal_number
    left join withdrawals
        on free_disputes.dispute_id = withdrawals.dispute_id
        and free_chargebacks.currency = withdrawals.settlement_currency
    where (
        free_disputes.currency = free_chargebacks.currency
        and free_disputes.amount_minor = free_chargebacks.chargeback_amount_minor
    )
    or withdrawals.settlement_amount_minor = free_chargebacks.chargeback_amount_minor
),

final as (
    select
        dispute_id as stripe_object_id,
        cast(null as {{ dbt.type_string() }}) as erp_document_number,
        cast(null as {{ dbt.type_string() }}) as erp_payment_number,
        journal_number as erp_journal_number,
        'dispute_chargeback' as match_type,
        'chargeback_names_charge_document' as rule_name,
        20 as priority,
        0.95 as confidence,
        currency,
        amount_minor as stripe_amount_minor,
        erp_currency,
        chargeback_amount_minor as erp_amount_minor,
        {{ days_between('created_date', 'posting_date') }} as days_apart,
        false as allows_split
    from pairs
    where journal_rank = 1
        and dispute_rank = 1
)

select * from final
