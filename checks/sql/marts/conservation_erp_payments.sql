{#-
    Conservation (docs/contract.md section 6) of the ERP payments whose payment_method is
    `stripe` (any case), in minor units of their currency: the rule is
    macros/invariants/conservation_breaks.sql.
-#}
{% call conservation_breaks(
    matches=marts ~ '.fct_reconciliation_matches',
    exceptions=marts ~ '.fct_reconciliation_exceptions',
    match_types=['charge_payment', 'refund_payment'],
    side='erp',
    match_column='erp_payment_number',
    match_amount_column='erp_amount_minor',
) %}
select
    payments.payment_number as item_id,
    lower(trim(payments.currency)) as currency,
    cast(round(payments.amount * currencies.factor) as bigint) as amount_minor
from {{ batch }} as payments
left join {{ currencies }}
    on lower(trim(payments.currency)) = currencies.currency
where lower(trim(coalesce(payments.payment_method, ''))) = 'stripe'
{% endcall %}
