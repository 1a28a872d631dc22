{#-
    One row per exception the bank statements add to the two-way reconciliation (the
    vocabulary's bank types, docs/contract.md section 7), with the rule's type and disposition:
    - `bank_statement_out_of_balance` (true_exception): a statement whose lines do not add up
      from its opening to its closing balance (difference_minor: closing - opening - lines);
    - `payout_not_received_by_bank` (true_exception): a paid payout the statements covering its
      arrival do not show, or show returned;
    - `bank_fee_on_payout` (expected_variance): less arrived than the payout (difference_minor:
      bank - payout);
    - `unexplained_bank_credit` (true_exception): a credit naming Stripe that no payout explains;
    - `deposit_not_on_bank_statement` (true_exception): an ERP deposit of a Stripe payout, posted
      within the statements' dates, that no statement line carries.
    Kept apart from fct_reconciliation_exceptions (which the classifier and the conservation
    checks read), so that a run without statements changes nothing there.
    A person resolves one on the review page (or in the CSV decisions) with a bank type: the
    latest resolution of its object (int_bank_exception_resolutions_latest) is shown beside the
    rule's values (resolved_*), which stay as they were, and the exception no longer requires
    review. Every other one requires review: no auto-accept policy covers the bank's types.
-#}
with

statements as (
    select * from {{ ref('int_bank_statements_balanced') }}
),

payouts as (
    select * from {{ ref('int_bank_payouts_received') }}
),

bank_lines as (
    select * from {{ ref('rpt_bank_reconciliation') }}
),

deposits as (
    select * from {{ ref('int_gl_deposits_identified') }}
    where is_stripe_deposit
),

latest_resolutions as (
    select * from {{ ref('int_bank_exception_resolutions_latest') }}
),

deposit_matches as (
    select * from {{ ref('fct_reconciliation_matches') }}
    where match_type = 'payout_deposit'
        and status <> 'rejected'
),

coverage as (
    select
        currency,
        min(from_date) as covered_from,
        max(to_date) as covered_to
    from statements
    group by currency
),

journals_on_statements as (
    select distinct erp_journal_number
    from bank_lines
    where erp_journal_number is not null
),

unbalanced as (
    select
        statement_key as object_id,
        'bank' as side,
        'statement' as object_type,
        'bank_statement_out_of_balance' as exception_type,
        currency,
        closing_balance_minor as amount_minor,
        difference_minor,
        to_date as event_date,
        source_file as reference
    from statements
    where not is_balanced
),

not_received as (
    select
        payout_id as object_id,
        'stripe' as side,
        'payout' as object_type,
        'payout_not_received_by_bank' as exception_type,
        currency,
        payout_amount_minor as amount_minor,
        bank_amount_minor - payout_amount_minor as difference_minor,
        arrival_date as event_date,
        cast(null as {{ dbt.type_string() }}) as reference
    from payouts
    where stripe_status = 'paid'
        and bank_status in ('not_received', 'returned')
),

fee_taken as (
    select
        payout_id as object_id,
        'stripe' as side,
        'payout' as object_type,
        'bank_fee_on_payout' as exception_type,
        currency,
        payout_amount_minor as amount_minor,
        bank_amount_minor - payout_amount_minor as difference_minor,
        bank_value_date as event_date,
        cast(null as {{ dbt.type_string() }}) as reference
    from payouts
    where bank_status = 'fee_taken'
),

unexplained as (
    select
        line_id as object_id,
        'bank' as side,
        'statement_line' as object_type,
        'unexplained_bank_credit' as exception_type,
        currency,
        amount_minor,
        cast(null as {{ dbt.type_bigint() }}) as difference_minor,
        value_date as event_date,
        erp_journal_number as reference
    from bank_lines
    where status = 'unexplained_stripe_credit'
),

deposits_missing as (
    select
        deposits.journal_number as object_id,
        'erp' as side,
        'deposit' as object_type,
        'deposit_not_on_bank_statement' as exception_type,
        deposits.currency,
        deposits.deposit_amount_minor as amount_minor,
        cast(null as {{ dbt.type_bigint() }}) as difference_minor,
        deposits.posting_date as event_date,
        min(deposit_matches.stripe_object_id) as reference
    from deposits
    inner join coverage
        on deposits.currency = coverage.currency
    left join journals_on_statements
        on deposits.journal_number = journals_on_statements.erp_journal_number
    left join deposit_matches
        on deposits.journal_number = deposit_matches.erp_journal_number
    where journals_on_statements.erp_journal_number is null
        and deposits.posting_date between coverage.covered_from and coverage.covered_to
    group by deposits.journal_number, deposits.currency, deposits.deposit_amount_minor, deposits.posting_date
),

unioned as (
    select * from unbalanced
    union all
    select * from not_received
    union all
    select * from fee_taken
    union all
    select * from unexplained
    union all
    select * from deposits_missing
),

identified as (
    select
        {{ hash_key(['side', 'object_id', 'exception_type']) }} as exception_id,
        object_id,
        side,
        object_type,
        exception_type,
        case
            when exception_type = 'bank_fee_on_payout' then 'expected_variance'
            else 'true_exception'
        end as disposition,
        currency,
        cast(amount_minor as {{ dbt.type_bigint() }}) as amount_minor,
        cast(difference_minor as {{ dbt.type_bigint() }}) as difference_minor,
        event_date,
        reference
    from unioned
),

final as (
    select
        identified.exception_id,
        identified.object_id,
        identified.side,
        identified.object_type,
        identified.exception_type,
        identified.disposition,
        identified.currency,
        identified.amount_minor,
        identified.difference_minor,
        identified.event_date,
        identified.reference,
        latest_resolutions.object_id is null as requires_review,
        latest_resolutions.object_id is not null as is_resolved,
        latest_resolutions.exception_type as resolved_exception_type,
        latest_resolutions.disposition as resolved_disposition,
        cast(latest_resolutions.resolved_at as {{ dbt.type_timestamp() }}) as resolved_at,
        latest_resolutions.resolved_by,
        latest_resolutions.note as resolution_note,
        latest_resolutions.decision_source as resolution_source
    from identified
    left join latest_resolutions
        on identified.object_id = latest_resolutions.object_id
)

select * from final
