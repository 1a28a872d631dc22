{#-
    Conservation (docs/contract.md section 6) of the Stripe payouts:
    the rule is macros/invariants/conservation_breaks.sql.
-#}
{% call conservation_breaks(
    matches=marts ~ '.fct_reconciliation_matches',
    exceptions=marts ~ '.fct_reconciliation_exceptions',
    match_types=['payout_deposit'],
    side='stripe',
) %}
select
    id as item_id,
    lower(currency) as currency,
    amount as amount_minor
from {{ batch }} as batch_rows
{% endcall %}
