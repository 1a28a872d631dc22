{#-
    One row per scored candidate pair likely enough to be a match (probability at least var
    match_min_probability), in the shape of a matching rule (rule_name `scored_match`, priority
    50: after every analysts' rule), so the resolution weighs it against the rules' pairs. Its
    confidence is the scorer's probability. A pair for less than the item's amount may be one
    part of a split (allows_split: the resolution keeps the parts within the item's amount).
    With var match_scorer_enabled false, or RECON_RULES_ONLY=1 in the environment (`recon run
    --rules-only`), it is empty: the rules alone.
-#}
with

scored as (
    select * from {{ ref('int_match_pairs_scored') }}
),

final as (
    select
        stripe_object_id,
        document_number as erp_document_number,
        payment_number as erp_payment_number,
        cast(null as {{ dbt.type_string() }}) as erp_journal_number,
        match_type,
        'scored_match' as rule_name,
        50 as priority,
        cast(probability as numeric(5, 4)) as confidence,
        currency,
        stripe_amount_minor,
        erp_currency,
        erp_amount_minor,
        days_apart,
        amount_level = 'part' as allows_split
    from scored
    where probability >= {{ var('match_min_probability') }}
        and {{ scored_matching_enabled() }}
)

select * from final
