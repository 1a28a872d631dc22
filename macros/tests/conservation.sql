{#-
    Conservation (docs/contract.md section 6) of one kind of item, as a dbt test: the rule itself
    is the macro conservation_breaks (macros/invariants/), which `recon check` renders too, so
    the build and the checks hold items to one definition. Returns the items that break it.

    model: the relation of the items (one row per item); item_id_column, currency_column,
    amount_column: its columns; item_filter: optional SQL predicate choosing the items that must
    reconcile (e.g. "is_succeeded"). matches, exceptions: the two marts; match_type: the match
    type that accounts for these items; side: the exceptions' side of these items (stripe, erp).
-#}
{% test conservation(model, item_id_column, currency_column, amount_column, matches, exceptions, match_type, item_filter='1 = 1', side='stripe') %}

{% call conservation_breaks(matches=matches, exceptions=exceptions, match_types=[match_type], side=side) %}
select
    {{ item_id_column }} as item_id,
    {{ currency_column }} as currency,
    {{ amount_column }} as amount_minor
from {{ model }}
where {{ item_filter }}
{% endcall %}

{% endtest %}
