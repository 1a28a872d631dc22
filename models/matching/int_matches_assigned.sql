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
with

-- The candidate pairs (`pairs`) and what the rounds accept (`kept`): macro assignment_ctes.
{{ assignment_ctes() }},

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
