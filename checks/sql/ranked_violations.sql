{#-
    Every check's rows, wrapped so that each returned row also carries its currency's row count
    and total at stake (Great Expectations returns at most 200 rows), ordered biggest first within
    each currency with the currencies interleaved: the first rows show every currency.
    `{{ batch }}` is always aliased in the checks, and this wrapper always has a join: GX 1.24
    inserts the batch as a bare `(select ...)` into a query with a join (the caller aliases it)
    but as `(select ...) as subselect` into one without, so a query is portable only if it always
    joins. On DuckDB the batch is the table's name; on PostgreSQL a subquery, which needs an alias.
-#}
with

violations as (
    {{ violations | trim | indent(4) }}
),

ranked as (
    select
        violations.*,
        count(*) over (partition by violations.currency) as currency_rows,
        sum(abs(violations.at_stake_minor)) over (partition by violations.currency) as currency_at_stake_minor,
        row_number() over (
            partition by violations.currency
            order by abs(coalesce(violations.at_stake_minor, 0)) desc, violations.object_id
        ) as rank_in_currency
    from violations
),

always_joined as (
    select 1 as one
)

select
    ranked.object_id,
    ranked.currency,
    ranked.amount_minor,
    ranked.at_stake_minor,
    ranked.detail,
    ranked.currency_rows,
    ranked.currency_at_stake_minor
from ranked
cross join always_joined
order by ranked.rank_in_currency, ranked.currency, ranked.object_id
