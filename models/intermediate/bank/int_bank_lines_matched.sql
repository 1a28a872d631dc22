{#-
    One row per bank statement line, with the Stripe payout it carries (if any) and how it was
    found. In order: the payout id in any of the bank's reference fields (any case); the payout's
    trace id there, within the date window; else, for a credit that names Stripe and no payout,
    a paid payout of the same currency and amount whose arrival is within vars
    payout_bank_days_before / payout_bank_days_after of the line's value date and that no line
    names, one to one (each side's closest candidate, both ways). Several lines may name one
    payout (a payout split in two credits, a credit and its return); a line carries one payout.
-#}
with

lines as (
    select * from {{ ref('stg_bank__statement_lines') }}
),

payouts as (
    select * from {{ ref('stg_stripe__payouts') }}
),

lines_read as (
    select
        lines.*,
        {{ regexp_first('lines.reference_text', 'PO_[A-Z0-9]+') }} as named_payout_id,
        coalesce(lines.reference_text like '%STRIPE%', false) as names_stripe
    from lines
),

by_id as (
    select
        lines_read.line_id,
        payouts.payout_id,
        1 as method_rank
    from lines_read
    inner join payouts
        on lines_read.named_payout_id = upper(payouts.payout_id)
        and lines_read.currency = payouts.currency
),

by_trace_id as (
    select
        lines_read.line_id,
        payouts.payout_id,
        2 as method_rank
    from lines_read
    inner join payouts
        on lines_read.currency = payouts.currency
        and lines_read.value_date
        between {{ dbt.dateadd('day', -var('payout_bank_days_before'), 'payouts.arrival_date') }}
        and {{ dbt.dateadd('day', var('payout_bank_days_after'), 'payouts.arrival_date') }}
    where length(payouts.trace_id) >= 6
        and {{ dbt.position('upper(payouts.trace_id)', 'lines_read.reference_text') }} > 0
),

referenced as (
    select
        line_id,
        payout_id,
        method_rank,
        row_number() over (partition by line_id order by method_rank, payout_id) as choice
    from (
        select * from by_id
        union all
        select * from by_trace_id
    ) as pairs  -- noqa: AL05
),

referenced_first as (
    select
        line_id,
        payout_id,
        method_rank
    from referenced
    where choice = 1
),

payouts_free as (
    select payouts.*
    from payouts
    left join referenced_first
        on payouts.payout_id = referenced_first.payout_id
    where referenced_first.payout_id is null
        and payouts.status = 'paid'
),

credits_free as (
    select lines_read.*
    from lines_read
    left join referenced_first
        on lines_read.line_id = referenced_first.line_id
    where referenced_first.line_id is null
        and lines_read.is_credit
        and lines_read.names_stripe
        and lines_read.named_payout_id is null
),

candidates as (
    select
        credits_free.line_id,
        payouts_free.payout_id,
        abs({{ days_between('payouts_free.arrival_date', 'credits_free.value_date') }}) as days_apart
    from credits_free
    inner join payouts_free
        on credits_free.currency = payouts_free.currency
        and credits_free.amount_minor = payouts_free.amount_minor
        and credits_free.value_date
        between {{ dbt.dateadd('day', -var('payout_bank_days_before'), 'payouts_free.arrival_date') }}
        and {{ dbt.dateadd('day', var('payout_bank_days_after'), 'payouts_free.arrival_date') }}
),

by_amount_and_date as (
    select
        line_id,
        payout_id,
        row_number() over (partition by line_id order by days_apart, payout_id) as line_choice,
        row_number() over (partition by payout_id order by days_apart, line_id) as payout_choice
    from candidates
),

matched as (
    select
        line_id,
        payout_id,
        case method_rank when 1 then 'payout_id' else 'trace_id' end as match_method
    from referenced_first
    union all
    select
        line_id,
        payout_id,
        'amount_and_date' as match_method
    from by_amount_and_date
    where line_choice = 1
        and payout_choice = 1
),

final as (
    select
        lines_read.*,
        matched.payout_id,
        matched.match_method,
        (lines_read.names_stripe or matched.payout_id is not null) as is_stripe_line
    from lines_read
    left join matched
        on lines_read.line_id = matched.line_id
)

select * from final
