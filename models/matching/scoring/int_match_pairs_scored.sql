{#-
    One row per candidate pair (int_match_pairs_candidate) with its score and probability. A pair's score is the intercept plus the weight of each of its evidence levels
    (int_match_pairs_candidate): the weights `recon run` learned from the books' own certain
    matches and the team's decisions (source match_scorer.match_scorer_weights), else the seed
    match_scorer_prior_weights. Its probability is the logistic of the score.
    `probability_as_whole` is what the probability would be were the amounts equal: for a pair
    that may be one part of a split, whose amount the sum search (int_match_splits_found)
    checks instead. int_match_pairs_proposed passes the likely pairs to the resolution.
-#}
{%- set features = [
    'amount_level', 'days_level', 'email_level', 'name_level', 'customer_number_level',
    'stripe_id_level', 'document_level', 'method_level',
] %}
with

candidates as (
    select * from {{ ref('int_match_pairs_candidate') }}
),

learned as (
    select * from {{ source_or_empty('match_scorer', 'match_scorer_weights', {
        'match_type': dbt.type_string(),
        'feature': dbt.type_string(),
        'level': dbt.type_string(),
        'weight': dbt.type_numeric(),
    }) }} as learned_weights  -- noqa: AL05
),

priors as (
    select * from {{ ref('match_scorer_prior_weights') }}
),

weights as (
    select
        match_type,
        feature,
        coalesce(level, '') as level,
        cast(weight as {{ type_double() }}) as weight
    from learned
    union all
    select
        priors.match_type,
        priors.feature,
        coalesce(priors.level, '') as level,
        cast(priors.weight as {{ type_double() }}) as weight
    from priors
    where priors.match_type not in (select distinct learned.match_type from learned)
),

scored as (
    select
        candidates.*,
        coalesce(intercept.weight, 0)
        {%- for feature in features %}
            + coalesce({{ feature }}_weights.weight, 0)
        {%- endfor %} as score,
        coalesce(exact_weights.weight, 0) - coalesce(amount_level_weights.weight, 0) as whole_amount_gain
    from candidates
    left join weights as intercept
        on candidates.match_type = intercept.match_type
        and intercept.feature = 'intercept'
    {%- for feature in features %}
        left join weights as {{ feature }}_weights
            on candidates.match_type = {{ feature }}_weights.match_type
            and {{ feature }}_weights.feature = '{{ feature }}'
            and candidates.{{ feature }} = {{ feature }}_weights.level
    {%- endfor %}
    left join weights as exact_weights
        on candidates.match_type = exact_weights.match_type
        and exact_weights.feature = 'amount_level'
        and exact_weights.level = 'exact'
),

final as (
    select
        scored.*,
        1.0 / (1.0 + exp(-score)) as probability,
        1.0 / (1.0 + exp(-(score + whole_amount_gain))) as probability_as_whole
    from scored
)

select * from final
