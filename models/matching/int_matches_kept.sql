{#-
    Spark only: the pairs the assignment's rounds accept (macro assignment_accepted) as a table,
    before int_matches_assigned's swaps (see int_match_pairs_ranked).
-#}
{{ config(enabled=target.type == 'spark') }}
with

pairs as (
    select * from {{ ref('int_match_pairs_ranked') }}
),

{{ assignment_accepted() }}

select * from kept
