{#-
    One row per journal that debits the chargebacks account: the amount, date, memo and the
    Stripe dispute or charge id the memo names.
-#}
with

lines as (
    select * from {{ ref('int_gl_lines_classified') }}
),

chargeback_debits as (
    select
        journal_number,
        currency,
        min(posting_date) as posting_date,
        sum(debit_minor) as chargeback_amount_minor,
        max(memo) as memo
    from lines
    where account_role = 'chargebacks'
        and debit_minor > 0
    group by journal_number, currency
),

final as (
    select
        journal_number,
        currency,
        posting_date,
        chargeback_amount_minor,
        memo,
        {{ regexp_first('memo', 'dp_[A-Za-z0-9]+') }} as memo_dispute_id,
        {{ regexp_first('memo', 'ch_[A-Za-z0-9]+') }} as memo_charge_id
    from chargeback_debits
)

select * from final
