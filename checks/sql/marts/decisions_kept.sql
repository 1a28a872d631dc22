{#-
    No pair is both confirmed and rejected: not in the matches mart, and not against the team's
    decisions (a rejected pair is `rejected` or absent; a confirmed one is never `rejected`)
    (docs/contract.md section 6).
-#}
with

pairs as (
    select
        match_type,
        stripe_object_id,
        min(currency) as currency,
        min(stripe_amount_minor) as amount_minor,
        coalesce(erp_document_number, '') || '/' || coalesce(erp_payment_number, '') || '/'
        || coalesce(erp_journal_number, '') as erp_key
    from {{ batch }} as batch_rows
    group by
        match_type,
        stripe_object_id,
        coalesce(erp_document_number, '') || '/' || coalesce(erp_payment_number, '') || '/'
        || coalesce(erp_journal_number, '')
    having
        sum(case when status = 'confirmed' then 1 else 0 end) > 0
        and sum(case when status = 'rejected' then 1 else 0 end) > 0
),

decisions as (
    select
        stripe_object_id,
        nullif(trim(erp_document_number), '') as erp_document_number,
        nullif(trim(erp_payment_number), '') as erp_payment_number,
        nullif(trim(erp_journal_number), '') as erp_journal_number,
        lower(trim(decision)) as decision
    from {{ raw_decisions }}.match_decisions
),

against_decisions as (
    select
        matches.stripe_object_id,
        matches.currency,
        matches.stripe_amount_minor,
        matches.status,
        decisions.decision,
        coalesce(matches.erp_document_number, '') || '/' || coalesce(matches.erp_payment_number, '')
        || '/' || coalesce(matches.erp_journal_number, '') as erp_key
    from {{ batch }} as matches
    inner join decisions
        on matches.stripe_object_id = decisions.stripe_object_id
        and (
            decisions.erp_document_number is null
            or matches.erp_document_number = decisions.erp_document_number
        )
        and (
            decisions.erp_payment_number is null
            or matches.erp_payment_number = decisions.erp_payment_number
        )
        and (
            decisions.erp_journal_number is null
            or matches.erp_journal_number = decisions.erp_journal_number
        )
    where
        (decisions.decision = 'rejected' and matches.status <> 'rejected')
        or (decisions.decision = 'confirmed' and matches.status = 'rejected')
)

select
    cast(stripe_object_id as varchar) as object_id,
    currency,
    amount_minor,
    amount_minor as at_stake_minor,
    match_type || ': the pair with ' || erp_key || ' is both confirmed and rejected' as detail
from pairs
union all
select
    cast(stripe_object_id as varchar) as object_id,
    currency,
    stripe_amount_minor as amount_minor,
    stripe_amount_minor as at_stake_minor,
    'the team ' || decision || ' the pair with ' || erp_key || ', the mart says ' || status as detail
from against_decisions
