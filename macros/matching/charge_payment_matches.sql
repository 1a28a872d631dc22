{#-
    The output of a charge-to-ERP-payment matching rule, in the shape every rule shares
    (README: how an analyst adds a matching rule), from the rule's own pairs: `pairs` names a CTE
    with charge_id, payment_number and confidence; the rule's CTEs `charges`
    (int_charges_enriched) and `payments` (int_erp_payments_enriched) give the rest.
-#}
{% macro charge_payment_matches(pairs, rule_name, priority, allows_split=true) -%}
    select
        charges.charge_id as stripe_object_id,
        payments.document_number as erp_document_number,
        payments.payment_number as erp_payment_number,
        cast(null as {{ dbt.type_string() }}) as erp_journal_number,
        'charge_payment' as match_type,
        '{{ rule_name }}' as rule_name,
        {{ priority }} as priority,
        {{ pairs }}.confidence,
        charges.currency,
        charges.amount_minor as stripe_amount_minor,
        payments.currency as erp_currency,
        payments.amount_minor as erp_amount_minor,
        {{ days_between('charges.created_date', 'payments.payment_date') }} as days_apart,
        {{ 'true' if allows_split else 'false' }} as allows_split
    from {{ pairs }}
    inner join charges
        on {{ pairs }}.charge_id = charges.charge_id
    inner join payments
        on {{ pairs }}.payment_number = payments.payment_number
{%- endmacro %}
