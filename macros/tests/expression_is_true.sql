{#- Every row satisfies the SQL `expression` (e.g. "amount_minor - fee_minor = net_minor"). -#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
