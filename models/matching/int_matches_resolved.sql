{#-
    One row per resolved match: the candidates of every rule with rejected pairs removed and
    precedence applied, so that
    - each ERP payment (or journal) is matched to at most one Stripe object;
    - each Stripe object is matched to at most one ERP document per match type, except when
      its best rule allows a split (one charge paying several invoices);
    - a confirmed pair (priority 0) wins every conflict and is marked `confirmed`.
    Precedence: lower priority first, then an exact amount in the same currency, the smaller
    difference, the fewer days apart, the earlier Stripe object, then ids (deterministic).
-#}
with

candidates as (
    select * from {{ ref('int_match_candidates_unioned') }}
),

decisions as (
    select * from {{ ref('stg_decisions__match_decisions') }}
),

rejected as (
    select * from decisions
    where decision = 'rejected'
),

confirmed as (
    select * from decisions
    where decision = 'confirmed'
),

charges as (
    select
        charge_id,
        created_at
    from {{ ref('int_charges_enriched') }}
),

-- A rejection names the Stripe object and any of the ERP numbers; it removes every candidate
-- pair it fits (an anti-join: the candidates no rejection fits).
not_rejected as (
    select candidates.*
    from candidates
    left join rejected
        on candidates.stripe_object_id = rejected.stripe_object_id
        and (
            rejected.erp_document_number is null
            or candidates.erp_document_number = rejected.erp_document_number
        )
        and (
            rejected.erp_payment_number is null
            or candidates.erp_payment_number = rejected.erp_payment_number
        )
        and (
            rejected.erp_journal_number is null
            or candidates.erp_journal_number = rejected.erp_journal_number
        )
    where rejected.stripe_object_id is null
),

ordered as (
    select
        not_rejected.*,
        coalesce(not_rejected.erp_payment_number, not_rejected.erp_journal_number) as erp_item_number,
        case
            when not_rejected.currency = not_rejected.erp_currency
                and not_rejected.stripe_amount_minor = not_rejected.erp_amount_minor then 0
            else 1
        end as amount_rank,
        case
            when not_rejected.currency = not_rejected.erp_currency
                then abs(not_rejected.erp_amount_minor - not_rejected.stripe_amount_minor)
            else 999999999999
        end as difference_rank,
        abs(coalesce(not_rejected.days_apart, 9999)) as days_rank,
        -- Of two identical charges, the first one paid the invoice (the later is a duplicate).
        charges.created_at as stripe_created_at
    from not_rejected
    left join charges
        on not_rejected.stripe_object_id = charges.charge_id
),

-- Each ERP payment (or journal) goes to one Stripe object: the first by precedence. Of several
-- rules finding that same pair, the strongest evidence is kept (priority, then confidence).
one_per_erp_item as (
    select *
    from (
        select
            ordered.*,
            row_number() over (
                partition by erp_item_number
                order by
                    priority asc, amount_rank asc, difference_rank asc, days_rank asc, stripe_created_at asc,
                    stripe_object_id asc, confidence desc, rule_name asc, erp_document_number asc
            ) as erp_rank
        from ordered
    ) as ranked
    where erp_rank = 1
),

-- Per Stripe object (and match type): its best pair, and its best pair of each document.
ranked_per_object as (
    select
        one_per_erp_item.*,
        row_number() over (
            partition by match_type, stripe_object_id, coalesce(erp_document_number, erp_item_number)
            order by priority, amount_rank, difference_rank, days_rank, erp_item_number
        ) as document_rank,
        row_number() over (
            partition by match_type, stripe_object_id
            order by priority, amount_rank, difference_rank, days_rank, erp_item_number
        ) as object_rank,
        first_value(allows_split) over (
            partition by match_type, stripe_object_id
            order by priority, amount_rank, difference_rank, days_rank, erp_item_number
        ) as best_allows_split
    from one_per_erp_item
),

-- One pair per document; the object's best pair, and when that pair allows a split, every
-- other pair allowing one.
kept as (
    select * from ranked_per_object
    where document_rank = 1
        and (object_rank = 1 or (best_allows_split and allows_split))
),

final as (
    select
        {{ hash_key(['kept.match_type', 'kept.stripe_object_id', 'kept.erp_document_number',
            'kept.erp_payment_number', 'kept.erp_journal_number']) }} as match_id,
        kept.match_type,
        kept.stripe_object_id,
        kept.erp_document_number,
        kept.erp_payment_number,
        kept.erp_journal_number,
        kept.rule_name,
        kept.priority,
        cast(kept.confidence as numeric(5, 4)) as confidence,
        case
            when confirmed.stripe_object_id is not null then 'confirmed'
            when kept.confidence >= {{ var('auto_match_min_confidence') }} then 'auto_matched'
            else 'suggested'
        end as status,
        kept.currency,
        kept.stripe_amount_minor,
        kept.erp_currency,
        kept.erp_amount_minor,
        kept.days_apart,
        kept.allows_split
    from kept
    left join confirmed
        on kept.stripe_object_id = confirmed.stripe_object_id
        and coalesce(kept.erp_document_number, '')
        = coalesce(confirmed.erp_document_number, kept.erp_document_number, '')
        and coalesce(kept.erp_payment_number, '')
        = coalesce(confirmed.erp_payment_number, kept.erp_payment_number, '')
        and coalesce(kept.erp_journal_number, '')
        = coalesce(confirmed.erp_journal_number, kept.erp_journal_number, '')
)

select * from final
