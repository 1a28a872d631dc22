{#-
    Conservation (docs/contract.md section 6): per currency, the raw total of the items that must
    reconcile equals the matched plus the excepted amount, to the minor unit.

    model: the relation of the items' raw amounts (one row per item); with
    item_id_column, currency_column, amount_column naming its columns. matches: the matches
    mart; exceptions: the exceptions mart; match_type: the match type of these items;
    item_filter: optional SQL predicate on the items (e.g. "is_succeeded").
    An item counts as matched by its matched stripe amounts (allocated per row), as excepted
    by its exception amount when it has no match; a matched item that is also an exception (a
    difference) counts once, as matched.
-#}
{% test conservation(model, item_id_column, currency_column, amount_column, matches, exceptions, match_type, item_filter='1 = 1') %}

with

items as (
    select
        {{ item_id_column }} as item_id,
        {{ currency_column }} as currency,
        {{ amount_column }} as amount_minor
    from {{ model }}
    where {{ item_filter }}
),

matched as (
    select
        stripe_object_id as item_id,
        sum(stripe_amount_minor) as amount_minor
    from {{ matches }}
    where match_type = '{{ match_type }}'
        and status <> 'rejected'
    group by stripe_object_id
),

excepted as (
    select
        object_id as item_id,
        max(amount_minor) as amount_minor
    from {{ exceptions }}
    group by object_id
),

per_currency as (
    select
        items.currency,
        sum(items.amount_minor) as raw_total_minor,
        sum(coalesce(matched.amount_minor, excepted.amount_minor, 0)) as accounted_minor
    from items
    left join matched
        on items.item_id = matched.item_id
    left join excepted
        on items.item_id = excepted.item_id
        and matched.item_id is null
    group by items.currency
)

select *
from per_currency
where raw_total_minor <> accounted_minor

{% endtest %}
