{#-
    Conservation (docs/contract.md section 6) of the ERP bank deposits of Stripe payouts: which
    deposits are Stripe's is decided once, by int_gl_deposits_identified.is_stripe_deposit (the
    exceptions mart reads it too); the rule is macros/invariants/conservation_breaks.sql.
-#}
{% call conservation_breaks(
    matches=marts ~ '.fct_reconciliation_matches',
    exceptions=marts ~ '.fct_reconciliation_exceptions',
    match_types=['payout_deposit'],
    side='erp',
    match_column='erp_journal_number',
    match_amount_column='erp_amount_minor',
) %}
select
    journal_number as item_id,
    currency,
    deposit_amount_minor as amount_minor
from {{ batch }} as deposits
where is_stripe_deposit
{% endcall %}
