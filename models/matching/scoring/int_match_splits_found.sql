{#-
    One row per receipt of a split the sum search found: a charge that nothing matched yet (or
    whose receipts so far allow a split and fall short of it), and two to var split_max_parts (one
    or more for a charge half paid) of its candidate ERP receipts that nothing matched yet, each
    for less than what is open, that together pay what is open exactly (or within rounding), when each receipt
    would be a likely match were its amount the charge's (probability_as_whole at least var
    match_min_probability: the customer, the dates and the references agree). The sum replaces
    the amount as evidence.
    Bounded: per charge, only its 8 most likely part-receipts enter the search, so a customer with
    many open receipts costs at most 162 combinations per charge. Of the combinations that add
    up, a charge keeps its most likely (the weakest receipt's probability, then fewer receipts);
    a receipt in the groups of two charges goes to the more likely group, and the other charge
    stays unmatched.
    With var match_scorer_enabled false, or RECON_RULES_ONLY=1 in the environment (`recon run
    --rules-only`), it is empty: the rules alone.
-#}
{%- set max_parts = var('split_max_parts') | int %}
{%- set member_order = [] %}
{%- for part in range(1, max_parts + 1) %}{% do member_order.append('member_' ~ part ~ ' asc') %}{% endfor %}
{%- set tolerance = var('rounding_tolerance_minor') %}
with

scored as (
    select * from {{ ref('int_match_pairs_scored') }}
),

assigned as (
    select * from {{ ref('int_matches_assigned') }}
),

decisions as (
    select * from {{ ref('stg_decisions__match_decisions') }}
    where decision = 'rejected'
),

-- What the assignment already gave each charge: a charge whose receipts all allow a split and
-- do not reach its amount is still open for the rest.
assigned_totals as (
    select
        stripe_object_id,
        -- a receipt booked in another currency takes the whole charge, as in the assignment
        sum(case when currency = erp_currency then erp_amount_minor else stripe_amount_minor end) as assigned_minor,
        min(case when allows_split then 1 else 0 end) as all_allow_split
    from assigned
    where match_type = 'charge_payment'
    group by stripe_object_id
),

parts as (
    select
        scored.stripe_object_id,
        scored.payment_number,
        scored.document_number,
        scored.match_type,
        scored.currency,
        scored.stripe_amount_minor,
        scored.erp_currency,
        scored.erp_amount_minor,
        scored.days_apart,
        scored.probability_as_whole,
        scored.stripe_amount_minor - coalesce(assigned_totals.assigned_minor, 0) as open_minor,
        assigned_totals.stripe_object_id is not null as has_receipts,
        row_number() over (
            partition by scored.stripe_object_id
            order by scored.probability_as_whole desc, scored.payment_number asc
        ) as part_rank
    from scored
    left join assigned_totals
        on scored.stripe_object_id = assigned_totals.stripe_object_id
    left join assigned as assigned_payments
        on scored.payment_number = assigned_payments.erp_payment_number
    left join decisions
        on scored.stripe_object_id = decisions.stripe_object_id
        and scored.payment_number = decisions.erp_payment_number
    where scored.match_type = 'charge_payment'
        and scored.amount_level = 'part'
        and scored.probability_as_whole >= {{ var('match_min_probability') }}
        and (
            assigned_totals.stripe_object_id is null
            or (
                assigned_totals.all_allow_split = 1
                and assigned_totals.assigned_minor < scored.stripe_amount_minor - {{ tolerance }}
            )
        )
        and scored.erp_amount_minor < scored.stripe_amount_minor - coalesce(assigned_totals.assigned_minor, 0)
        + {{ tolerance }}
        and assigned_payments.erp_payment_number is null
        and decisions.stripe_object_id is null
        and {{ scored_matching_enabled() }}
),

bounded as (
    select * from parts
    where part_rank <= 8
),

-- A charge with no receipt yet needs two parts or more (one would be a whole match, which the
-- assignment saw); a charge half paid may need one more.
combinations_all as (
    {{ split_combinations('bounded', {
        'group': 'stripe_object_id', 'member': 'payment_number', 'amount': 'erp_amount_minor',
        'target': 'open_minor', 'score': 'probability_as_whole',
    }, max_parts, tolerance, min_parts=1) }}
),

charges_with_receipts as (
    select distinct stripe_object_id
    from bounded
    where has_receipts
),

combinations as (
    select combinations_all.*
    from combinations_all
    left join charges_with_receipts
        on combinations_all.group_key = charges_with_receipts.stripe_object_id
    where combinations_all.part_count >= 2
        or charges_with_receipts.stripe_object_id is not null
),

best_per_charge as (
    select *
    from (
        select
            combinations.*,
            row_number() over (
                partition by group_key
                order by
                    group_score desc, part_count asc, {{ member_order | join(", ") }}
            ) as group_rank
        from combinations
    ) as ranked
    where group_rank = 1
),

unpivoted as (
    {{ split_members('best_per_charge', max_parts) }}
),

members as (
    select
        group_key as stripe_object_id,
        group_score as group_probability,
        member as payment_number
    from unpivoted
),

-- A receipt claimed by two charges' groups goes to the more likely group; the other group
-- is dropped whole (its charge stays unmatched rather than half paid).
contested as (
    select
        stripe_object_id,
        payment_number,
        row_number() over (
            partition by payment_number order by group_probability desc, stripe_object_id asc
        ) as claim_rank
    from members
),

losing_groups as (
    select distinct stripe_object_id from contested
    where claim_rank > 1
),

final as (
    select
        bounded.stripe_object_id,
        bounded.document_number as erp_document_number,
        bounded.payment_number as erp_payment_number,
        cast(null as {{ dbt.type_string() }}) as erp_journal_number,
        bounded.match_type,
        'scored_split' as rule_name,
        50 as priority,
        cast(members.group_probability as numeric(5, 4)) as confidence,
        bounded.currency,
        bounded.stripe_amount_minor,
        bounded.erp_currency,
        bounded.erp_amount_minor,
        bounded.days_apart,
        true as allows_split
    from members
    inner join bounded
        on members.stripe_object_id = bounded.stripe_object_id
        and members.payment_number = bounded.payment_number
    left join losing_groups
        on members.stripe_object_id = losing_groups.stripe_object_id
    where losing_groups.stripe_object_id is null
)

select * from final
