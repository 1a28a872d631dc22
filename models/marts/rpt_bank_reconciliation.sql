{#-
    One row per bank statement line: the Stripe payout it carries, the ERP deposit journal that
    books it, and its status: `reconciled` (a payout and its journal), `no_erp_deposit` (a
    payout, no journal), `payout_returned` (money going back out for a payout),
    `unexplained_stripe_credit` (a credit naming Stripe that no payout explains), `not_stripe`
    (the account's other traffic). The journal is the payout's deposit match
    (fct_reconciliation_matches); a Stripe credit with no payout is paired with a Stripe deposit
    journal no payout matched, of the same currency and amount within the date window, one to one.
-#}
with

lines as (
    select * from {{ ref('int_bank_lines_matched') }}
),

deposit_matches as (
    select * from {{ ref('fct_reconciliation_matches') }}
    where match_type = 'payout_deposit'
        and status <> 'rejected'
),

deposits as (
    select * from {{ ref('int_gl_deposits_identified') }}
    where is_stripe_deposit
),

payout_journals as (
    select
        stripe_object_id as payout_id,
        min(erp_journal_number) as erp_journal_number
    from deposit_matches
    group by stripe_object_id
),

deposits_free as (
    select deposits.*
    from deposits
    left join deposit_matches
        on deposits.journal_number = deposit_matches.erp_journal_number
    where deposit_matches.erp_journal_number is null
),

credits_free as (
    select *
    from lines
    where payout_id is null
        and is_credit
        and is_stripe_line
),

direct_candidates as (
    select
        credits_free.line_id,
        deposits_free.journal_number,
        abs({{ days_between('credits_free.value_date', 'deposits_free.posting_date') }}) as days_apart
    from credits_free
    inner join deposits_free
        on credits_free.currency = deposits_free.currency
        and credits_free.amount_minor = deposits_free.deposit_amount_minor
        and deposits_free.posting_date
        between {{ dbt.dateadd('day', -var('payout_deposit_days_before'), 'credits_free.value_date') }}
        and {{ dbt.dateadd('day', var('payout_deposit_days_after'), 'credits_free.value_date') }}
),

direct_pairs as (
    select
        line_id,
        journal_number,
        row_number() over (partition by line_id order by days_apart, journal_number) as line_choice,
        row_number() over (partition by journal_number order by days_apart, line_id) as journal_choice
    from direct_candidates
),

final as (
    select
        lines.line_id,
        lines.statement_key,
        lines.statement_id,
        lines.account,
        lines.source_file,
        lines.file_format,
        lines.line_position,
        lines.file_line,
        lines.currency,
        lines.amount_minor,
        lines.booking_date,
        lines.value_date,
        lines.bank_reference,
        lines.customer_reference,
        lines.end_to_end_id,
        lines.description,
        lines.payout_id,
        lines.match_method,
        coalesce(payout_journals.erp_journal_number, direct_pairs.journal_number) as erp_journal_number,
        case
            when lines.payout_id is not null and lines.amount_minor < 0 then 'payout_returned'
            when lines.payout_id is not null and payout_journals.erp_journal_number is not null then 'reconciled'
            when lines.payout_id is not null then 'no_erp_deposit'
            when lines.is_credit and lines.is_stripe_line then 'unexplained_stripe_credit'
            else 'not_stripe'
        end as status
    from lines
    left join payout_journals
        on lines.payout_id = payout_journals.payout_id
    left join direct_pairs
        on lines.line_id = direct_pairs.line_id
        and direct_pairs.line_choice = 1
        and direct_pairs.journal_choice = 1
)

select * from final
