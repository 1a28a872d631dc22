{#-
    The rounds of int_matches_assigned: from the CTEs `pairs` (one row per candidate pair, with
    `pair_columns`) and `accepted_0` (what a person confirmed), CTEs ending with `kept` (no comma after it):
    every pair accepted in round 0 to `rounds`. Each round accepts the pairs that are the first choice of
    both sides (`precedence`) among what the rounds before left free (see the model).
-#}
{% macro assignment_rounds(rounds, pair_columns, precedence, tolerance) -%}
    {{ return(adapter.dispatch('assignment_rounds', 'recon')(rounds, pair_columns, precedence, tolerance)) }}
{%- endmacro %}

{#- DuckDB and PostgreSQL: a CTE per round for what is taken, what is open and what is accepted. -#}
{% macro default__assignment_rounds(rounds, pair_columns, precedence, tolerance) -%}
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
)
{%- endmacro %}

{#-
    Spark: the same rounds as windows over all the pairs, each pair carrying the round that
    accepted it (`accepted_round`), so each round reads the one before once. Spark plans a CTE
    anew at every reference, and the CTEs of the default (each round reading every round before
    it, twice) made a plan that grows threefold a round: 4 rounds ran out of memory planning.
    What was taken, each object's use so far, what is open and the first choices are windows
    partitioned by the same keys the default groups and ranks by.
-#}
{% macro spark__assignment_rounds(rounds, pair_columns, precedence, tolerance) -%}
state_0 as (
    select
        {{ pair_columns | join(', ') }},
        case when rule_name = 'human_decision' then 0 end as accepted_round
    from pairs
),
{% for round in range(1, rounds + 1) %}
    -- Round {{ round }}: what the rounds before took, and each object's use so far.
    used_{{ round }} as (
        select
            state_{{ round - 1 }}.*,
            erp_item_number is not null and max(case when accepted_round is not null then 1 else 0 end)
                over (partition by erp_item_number) = 1 as item_taken,
            coalesce(sum(case when accepted_round is not null then capacity_used_minor end)
                over (partition by match_type, stripe_object_id), 0) as used_minor,
            count(accepted_round) over (partition by match_type, stripe_object_id) > 0 as has_match,
            min(case when accepted_round is not null then case when allows_split then 1 else 0 end end)
                over (partition by match_type, stripe_object_id) as all_allow_split
        from state_{{ round - 1 }}
    ),

    opened_{{ round }} as (
        select
            used_{{ round }}.*,
            accepted_round is null
            and not item_taken
            and (
                not has_match
                or (
                    all_allow_split = 1
                    and allows_split
                    and currency = erp_currency
                    and used_minor + capacity_used_minor <= stripe_amount_minor + {{ tolerance }}
                )
            ) as is_open
        from used_{{ round }}
    ),

    ranked_{{ round }} as (
        select
            opened_{{ round }}.*,
            row_number() over (partition by is_open, erp_item_number order by {{ precedence }}) as erp_rank,
            row_number() over (
                partition by is_open, match_type, stripe_object_id order by {{ precedence }}
            ) as object_rank
        from opened_{{ round }}
    ),

    chosen_{{ round }} as (
        select
            ranked_{{ round }}.*,
            is_open and erp_rank = 1 as is_first_choice
        from ranked_{{ round }}
    ),

    first_choices_{{ round }} as (
        select
            chosen_{{ round }}.*,
            min(object_rank) over (partition by is_first_choice, match_type, stripe_object_id) as best_object_rank,
            first_value(allows_split) over (
                partition by is_first_choice, match_type, stripe_object_id order by object_rank
            ) as best_allows_split,
            used_minor + sum(capacity_used_minor) over (
                partition by is_first_choice, match_type, stripe_object_id order by object_rank
                rows between unbounded preceding and current row
            ) as running_minor
        from chosen_{{ round }}
    ),

    state_{{ round }} as (
        select
            {{ pair_columns | join(', ') }},
            case
                when is_first_choice
                    and best_object_rank = 1
                    and (
                        (not has_match and object_rank = 1)
                        or (
                            allows_split and best_allows_split
                            and currency = erp_currency
                            and running_minor <= stripe_amount_minor + {{ tolerance }}
                        )
                    )
                    then {{ round }}
                else accepted_round
            end as accepted_round
        from first_choices_{{ round }}
    ),
{% endfor %}

kept as (
    select {{ pair_columns | join(', ') }}
    from state_{{ rounds }}
    where accepted_round is not null
)
{%- endmacro %}
