{#-
    Conservation (docs/contract.md section 6), the one definition: every item that must reconcile
    is matched or is an exception, and per currency the raw total equals the matched plus the
    excepted amount, to the minor unit. Checked item by item, which implies the per-currency
    totals and names the item that breaks them.

    The items come from the caller's block: `{% call conservation_breaks(...) %} select ...
    {% endcall %}`, one row per item with item_id, currency, amount_minor (as recorded, may be
    negative). An item counts by its matched amount when matched (split rows summed), else by its
    exception's amount; amounts compare as magnitudes (the marts hold refunds positive).
    Returns the items that break it: object_id, currency, amount_minor, at_stake_minor, detail,
    the columns every check returns.

    Two users render this file: dbt (the generic test `conservation`) and `recon check`, which
    renders it with plain Jinja2 outside dbt (checks/rendering.py). So: no dbt functions here,
    portable SQL only (DuckDB and PostgreSQL), and no braces, `%` or `:name` in the output
    (Great Expectations formats the query text and SQLAlchemy reads `:name` as a parameter).
-#}
{% macro conservation_breaks(matches, exceptions, match_types, side, match_column='stripe_object_id', match_amount_column='stripe_amount_minor') -%}
with

items as (
    {{ caller() | trim | indent(4) }}
),

matched as (
    select
        {{ match_column }} as item_id,
        count(*) as match_rows,
        sum({{ match_amount_column }}) as amount_minor
    from {{ matches }}
    where match_type in ('{{ match_types | join("', '") }}')
        and status <> 'rejected'
        and {{ match_column }} is not null
    group by {{ match_column }}
),

excepted as (
    select
        object_id as item_id,
        count(*) as exception_rows,
        max(amount_minor) as amount_minor
    from {{ exceptions }}
    where side = '{{ side }}'
    group by object_id
),

accounted as (
    select
        items.item_id,
        items.currency,
        items.amount_minor,
        matched.amount_minor as matched_minor,
        excepted.amount_minor as excepted_minor,
        case
            when matched.item_id is not null then abs(matched.amount_minor)
            else abs(excepted.amount_minor)
        end as accounted_minor
    from items
    left join matched
        on items.item_id = matched.item_id
    left join excepted
        on items.item_id = excepted.item_id
)

{#- Spark has no `varchar` without a length (`target` is dbt's; rendered outside dbt, varchar). -#}
{%- set text_type = 'string' if (target is defined and target.type == 'spark') else 'varchar' %}
select
    cast(item_id as {{ text_type }}) as object_id,
    currency,
    amount_minor,
    abs(amount_minor) - coalesce(accounted_minor, 0) as at_stake_minor,
    case
        when matched_minor is null and excepted_minor is null
            then 'neither matched nor an exception'
        when matched_minor is not null
            then 'matched ' || cast(matched_minor as {{ text_type }}) || ', raw ' || cast(amount_minor as {{ text_type }})
        else 'excepted ' || cast(excepted_minor as {{ text_type }}) || ', raw ' || cast(amount_minor as {{ text_type }})
    end as detail
from accounted
where accounted_minor is null
    or accounted_minor <> abs(amount_minor)
{%- endmacro %}
