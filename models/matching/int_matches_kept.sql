{#-
    One row per pair the assignment's rounds accept (int_matches_assigned, before the swaps): what a
    person confirmed (round 0), then each round the pairs that are the first choice of both sides
    among what the rounds before left free (macro assignment_rounds). Ephemeral on DuckDB and
    PostgreSQL, a table on Spark (see int_match_pairs_ranked).
-#}
{{ config(materialized='table' if target.type == 'spark' else 'ephemeral') }}
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

pairs as (
    select * from {{ ref('int_match_pairs_ranked') }}
),

-- Round 0: what a person confirmed.
accepted_0 as (
    select {{ pair_columns | join(', ') }}
    from pairs
    where rule_name = 'human_decision'
),

{{ assignment_rounds(rounds, pair_columns, precedence, tolerance) }}

final as (
    select * from kept
)

select * from final
