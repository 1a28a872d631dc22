{#-
    The assignment of int_matches_assigned, in two parts its SQL shares with the Spark-only models
    int_match_pairs_ranked and int_matches_kept (DECISIONLOG.md, "The assignment on Spark"):
    `assignment_pairs`: the CTEs ending with `pairs` (one row per candidate pair, with what the
    precedence orders by); `assignment_accepted`: from `pairs`, the CTEs ending with `kept` (the
    pairs the rounds accept). Each is a list of CTEs without a trailing comma after the last.
-#}
{% macro assignment_pair_columns() -%}
    {{ return([
        'stripe_object_id', 'erp_document_number', 'erp_payment_number', 'erp_journal_number', 'match_type',
        'rule_name', 'priority', 'confidence', 'currency', 'stripe_amount_minor', 'erp_currency',
        'erp_amount_minor', 'days_apart', 'allows_split', 'erp_item_number', 'score_rank', 'amount_rank',
        'difference_rank', 'days_rank', 'stripe_created_at', 'capacity_used_minor',
    ]) }}
{%- endmacro %}

{% macro assignment_pairs() -%}
{%- set pair_columns = assignment_pair_columns() %}
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
)
{%- endmacro %}

{% macro assignment_accepted() -%}
{%- set rounds = 4 %}
{%- set tolerance = var('rounding_tolerance_minor') %}
{%- set pair_columns = assignment_pair_columns() %}
{%- set precedence -%}
    priority asc, score_rank asc, amount_rank asc, difference_rank asc, days_rank asc,
    stripe_created_at asc, stripe_object_id asc, erp_item_number asc, confidence desc, rule_name asc,
    erp_document_number asc
{%- endset %}
-- Round 0: what a person confirmed.
accepted_0 as (
    select {{ pair_columns | join(', ') }}
    from pairs
    where rule_name = 'human_decision'
),

{{ assignment_rounds(rounds, pair_columns, precedence, tolerance) }}
{%- endmacro %}

{#- The CTEs `pairs` and `kept` of int_matches_assigned (no comma after the last). -#}
{% macro assignment_ctes() -%}
    {{ return(adapter.dispatch('assignment_ctes', 'recon')()) }}
{%- endmacro %}

{% macro default__assignment_ctes() -%}
{{ assignment_pairs() }},

{{ assignment_accepted() }}
{%- endmacro %}

{#- Spark: the two are tables of their own (int_match_pairs_ranked, int_matches_kept). -#}
{% macro spark__assignment_ctes() -%}
pairs as (
    select * from {{ ref('int_match_pairs_ranked') }}
),

kept as (
    select * from {{ ref('int_matches_kept') }}
)
{%- endmacro %}
