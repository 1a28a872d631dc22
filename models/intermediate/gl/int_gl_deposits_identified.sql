{#-
    One row per journal that debits the bank account (a deposit): the deposit amount, its date
    and memo, the Stripe payout id the memo names (if any), and the Stripe fees the same journal
    books (a deposit journal that books the payout gross shows its fees, evidence of which payout
    it is when two payouts have one amount). A Stripe payout's deposit is
    such a journal (docs/contract.md section 3); `is_stripe_deposit` is the one place that
    decides which deposits are Stripe's: the exceptions mart and the conservation check read it.
-#}
with

lines as (
    select * from {{ ref('int_gl_lines_classified') }}
),

bank_debits as (
    select
        journal_number,
        currency,
        min(posting_date) as posting_date,
        sum(debit_minor) as deposit_amount_minor,
        max(memo) as memo
    from lines
    where account_role = 'bank'
        and debit_minor > 0
    group by journal_number, currency
),

fee_debits as (
    select
        journal_number,
        currency,
        sum(debit_minor) as fee_amount_minor
    from lines
    where account_role = 'stripe_fees'
        and debit_minor > 0
    group by journal_number, currency
),

memos_read as (
    select
        bank_debits.journal_number,
        bank_debits.currency,
        bank_debits.posting_date,
        bank_debits.deposit_amount_minor,
        fee_debits.fee_amount_minor,
        bank_debits.memo,
        -- banks upper-case memos: the payout id is read in any case and compared upper case
        upper({{ regexp_first('bank_debits.memo', '[Pp][Oo]_[A-Za-z0-9]+') }}) as memo_payout_id,
        coalesce(upper(bank_debits.memo) like '%STRIPE%', false) as is_stripe_memo
    from bank_debits
    left join fee_debits
        on bank_debits.journal_number = fee_debits.journal_number
        and bank_debits.currency = fee_debits.currency
),

final as (
    select
        *,
        -- a deposit of a Stripe payout: its memo mentions Stripe or names a payout
        (is_stripe_memo or memo_payout_id is not null) as is_stripe_deposit
    from memos_read
)

select * from final
