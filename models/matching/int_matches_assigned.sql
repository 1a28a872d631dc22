{#-
    One row per assigned pair: the pairs of every analysts' rule and of the scored matching,
    rejected pairs removed, assigned in rounds rather than first come, so that
    - each ERP payment (or journal) is matched to at most one Stripe object;
    - each Stripe object is matched to one ERP item per match type, or to several when its pairs
      allow a split and their ERP amounts add up to no more than its own (a charge paying
      several invoices: its receipts never exceed it);
    - a confirmed pair (priority 0) is kept whatever else competes.
    Each round accepts the pairs that are the first choice of both sides (by precedence: lower
    priority, a scored pair's higher confidence, an exact amount, the smaller difference, the
    fewer days apart, the earlier Stripe object, then ids); what a round assigns leaves the next
    rounds, so an item whose first choice went elsewhere gets its next best (two payouts of one
    amount on adjacent days each get the deposit closest to them).
    Last, two objects of one amount assigned by dates alone swap their ERP items when that
    lowers the sum of the squared days apart (a bank posts with a steady delay).
    int_matches_resolved adds what is found once these are assigned (splits by sum search,
    chargebacks naming a matched charge's document).
-#}
{%- set rounds = 4 %}
{%- set tolerance = var('rounding_tolerance_minor') %}
{%- set pair_columns = [
    'stripe_object_id', 'erp_document_number', 'erp_payment_number', 'erp_journal_number', 'match_type',
    'rule_name', 'priority', 'confidence', 'currency', 'stripe_amount_minor', 'erp_currency',
    'erp_amount_minor', 'days_apart', 'allows_split', 'erp_item_number', 'score_rank', 'amount_rank',
    'difference_rank', 'days_rank', 'stripe_created_at', 'capacity_used_minor',
] %}
{%- set precedence -%}
    priority asc, score_rank asc, amount_rank asc, difference_rank asc, days_rank asc,
    stripe_created_at asc, stripe_object_id asc, erp_item_number asc, confidence desc, rule_name asc,
    erp_document_number asc
{%- endset %}
with

rule_candidates as (
    select * from {{ ref('int_match_candidates_unioned') }}
),

scored_candidates as (
    select * from {{ ref('int_match_pairs_proposed') }}
),

decisions as (
    select * from {{ ref('stg_decisions__match_decisions') }}
),

rejected as (
    select * from decisions
    where decision = 'rejected'
),

-- When a Stripe object was created: of two otherwise equal candidates, the earlier takes the
-- earlier ERP item (two identical charges: the first paid the invoice; two payouts of one amount:
-- the first was posted first).
items as (
    select
        stripe_object_id,
        item_at
    from {{ ref('int_stripe_items_prepared') }}
    union all
    select
        payout_id as stripe_object_id,
        created_at as item_at
    from {{ ref('stg_stripe__payouts') }}
),

candidates as (
    select * from rule_candidates
    union all
    select * from scored_candidates
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

-- One row per pair (its strongest evidence), with what the precedence orders by.
ordered as (
    select
        not_rejected.*,
        coalesce(not_rejected.erp_payment_number, not_rejected.erp_journal_number) as erp_item_number,
        case
            when not_rejected.priority >= 50 then cast(round((1 - not_rejected.confidence) * 1000) as integer)
            else 0
        end as score_rank,
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
        items.item_at as stripe_created_at,
        -- what of the object the pair takes: its ERP amount, or (booked in another currency) all of it
        case
            when not_rejected.currency = not_rejected.erp_currency then not_rejected.erp_amount_minor
            else not_rejected.stripe_amount_minor
        end as capacity_used_minor
    from not_rejected
    left join items
        on not_rejected.stripe_object_id = items.stripe_object_id
),

pairs as (
    select {{ pair_columns | join(', ') }}
    from (
        select
            ordered.*,
            -- within one pair, what the precedence orders by after these is the same
            row_number() over (
                partition by match_type, stripe_object_id, erp_item_number, erp_document_number
                order by priority asc, score_rank asc, confidence desc, rule_name asc
            ) as pair_rank
        from ordered
    ) as ranked
    where pair_rank = 1
),

-- Round 0: what a person confirmed.
accepted_0 as (
    select {{ pair_columns | join(', ') }}
    from pairs
    where rule_name = 'human_decision'
),

{% for round in range(1, rounds + 1) %}
-- Round {{ round }}: what is still free after the rounds before.
    taken_items_{{ round }} as (
        select distinct erp_item_number from accepted_{{ round - 1 }}
        {%- for earlier in range(0, round - 1) %}
            union
            select distinct erp_item_number from accepted_{{ earlier }}
        {%- endfor %}
    ),

    object_state_{{ round }} as (
        select
            match_type,
            stripe_object_id,
            sum(capacity_used_minor) as used_minor,
            min(case when allows_split then 1 else 0 end) as all_allow_split
        from (
            {%- for earlier in range(0, round) %}
                select * from accepted_{{ earlier }}{{ " union all" if not loop.last }}
            {%- endfor %}
        ) as accepted_so_far
        group by match_type, stripe_object_id
    ),

    open_{{ round }} as (
        select
            pairs.*,
            coalesce(object_state_{{ round }}.used_minor, 0) as used_minor,
            object_state_{{ round }}.stripe_object_id is not null as has_match
        from pairs
        left join taken_items_{{ round }}
            on pairs.erp_item_number = taken_items_{{ round }}.erp_item_number
        left join object_state_{{ round }}
            on pairs.match_type = object_state_{{ round }}.match_type
            and pairs.stripe_object_id = object_state_{{ round }}.stripe_object_id
        where taken_items_{{ round }}.erp_item_number is null
            and (
                object_state_{{ round }}.stripe_object_id is null
                or (
                    object_state_{{ round }}.all_allow_split = 1
                    and pairs.allows_split
                    and pairs.currency = pairs.erp_currency
                    and object_state_{{ round }}.used_minor + pairs.capacity_used_minor
                    <= pairs.stripe_amount_minor + {{ tolerance }}
                )
            )
    ),

    ranked_{{ round }} as (
        select
            open_{{ round }}.*,
            row_number() over (partition by erp_item_number order by {{ precedence }}) as erp_rank,
            row_number() over (partition by match_type, stripe_object_id order by {{ precedence }}) as object_rank
        from open_{{ round }}
    ),

    -- The first choice of their ERP item; per object, in precedence order, with the running sum.
    first_choices_{{ round }} as (
        select
            ranked_{{ round }}.*,
            min(object_rank) over (partition by match_type, stripe_object_id) as best_object_rank,
            first_value(allows_split) over (
                partition by match_type, stripe_object_id order by object_rank
            ) as best_allows_split,
            used_minor + sum(capacity_used_minor) over (
                partition by match_type, stripe_object_id order by object_rank
                rows between unbounded preceding and current row
            ) as running_minor
        from ranked_{{ round }}
        where erp_rank = 1
    ),

    accepted_{{ round }} as (
        select {{ pair_columns | join(', ') }}
        from first_choices_{{ round }}
        -- the object's own first choice must be one of them: else it waits for the next round
        where best_object_rank = 1
            and (
                (not has_match and object_rank = 1)
                or (
                    allows_split and best_allows_split
                    and currency = erp_currency
                    and running_minor <= stripe_amount_minor + {{ tolerance }}
                )
            )
    ),
{% endfor %}

kept as (
    {%- for round in range(0, rounds + 1) %}
        select * from accepted_{{ round }}{{ " union all" if not loop.last }}
    {%- endfor %}
),

-- Two objects of one amount assigned by dates alone (no id) whose ERP items could be swapped:
-- rounds take the closest pair first (0 and 6 days), a bank posts with a steady delay (3 and 3).
-- A swap is made when it lowers the sum of the squared days apart and is, for both objects, the
-- swap that lowers it most (three payouts of one amount: each takes its best swap only).
by_dates_alone as (
    select * from kept
    where rule_name <> 'human_decision'
        and priority >= 30
        and currency = erp_currency
        and stripe_amount_minor = erp_amount_minor
        and not allows_split
),

swaps as (
    select
        one.match_type,
        one.stripe_object_id as first_object_id,
        one.erp_item_number as first_item_number,
        other.stripe_object_id as second_object_id,
        other.erp_item_number as second_item_number,
        one.days_apart * one.days_apart + other.days_apart * other.days_apart
        - one_to_other_item.days_apart * one_to_other_item.days_apart
        - other_to_one_item.days_apart * other_to_one_item.days_apart as improvement
    from by_dates_alone as one
    inner join by_dates_alone as other
        on one.match_type = other.match_type
        and one.currency = other.currency
        and one.stripe_amount_minor = other.stripe_amount_minor
        and one.stripe_object_id < other.stripe_object_id
    inner join pairs as one_to_other_item
        on one.match_type = one_to_other_item.match_type
        and one.stripe_object_id = one_to_other_item.stripe_object_id
        and other.erp_item_number = one_to_other_item.erp_item_number
        and one.priority = one_to_other_item.priority
    inner join pairs as other_to_one_item
        on other.match_type = other_to_one_item.match_type
        and other.stripe_object_id = other_to_one_item.stripe_object_id
        and one.erp_item_number = other_to_one_item.erp_item_number
        and other.priority = other_to_one_item.priority
    where one_to_other_item.days_apart * one_to_other_item.days_apart
        + other_to_one_item.days_apart * other_to_one_item.days_apart
        < one.days_apart * one.days_apart + other.days_apart * other.days_apart
),

swap_sides as (
    select
        first_object_id as stripe_object_id,
        first_object_id,
        second_object_id,
        improvement
    from swaps
    union all
    select
        second_object_id as stripe_object_id,
        first_object_id,
        second_object_id,
        improvement
    from swaps
),

best_swaps as (
    select *
    from (
        select
            swap_sides.*,
            row_number() over (
                partition by stripe_object_id
                order by improvement desc, first_object_id asc, second_object_id asc
            ) as swap_rank
        from swap_sides
    ) as ranked
    where swap_rank = 1
),

clean_swaps as (
    select swaps.*
    from swaps
    inner join best_swaps as first_best
        on swaps.first_object_id = first_best.stripe_object_id
        and swaps.second_object_id = first_best.second_object_id
        and swaps.first_object_id = first_best.first_object_id
    inner join best_swaps as second_best
        on swaps.second_object_id = second_best.stripe_object_id
        and swaps.first_object_id = second_best.first_object_id
        and swaps.second_object_id = second_best.second_object_id
),

swapped_to as (
    select
        match_type,
        first_object_id as stripe_object_id,
        second_item_number as erp_item_number
    from clean_swaps
    union all
    select
        match_type,
        second_object_id as stripe_object_id,
        first_item_number as erp_item_number
    from clean_swaps
),

settled as (
    select kept.*
    from kept
    left join swapped_to
        on kept.match_type = swapped_to.match_type
        and kept.stripe_object_id = swapped_to.stripe_object_id
    where swapped_to.stripe_object_id is null
    union all
    select pairs.*
    from swapped_to
    inner join pairs
        on swapped_to.match_type = pairs.match_type
        and swapped_to.stripe_object_id = pairs.stripe_object_id
        and swapped_to.erp_item_number = pairs.erp_item_number
),

final as (
    select
        stripe_object_id,
        erp_document_number,
        erp_payment_number,
        erp_journal_number,
        match_type,
        rule_name,
        priority,
        confidence,
        currency,
        stripe_amount_minor,
        erp_currency,
        erp_amount_minor,
        days_apart,
        allows_split
    from settled
)

select * from final
