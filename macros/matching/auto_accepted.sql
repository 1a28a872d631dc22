{#-
    True when the auto-accept policy accepts an item without a person: the rule of var
    auto_accept_policy for the item's kind, type and currency (confidence at or above its
    min_confidence and the absolute amount at or below its max_amount_minor), else
    `default_expression` (the project's default policy). The var's values are checked here
    against patterns before they become SQL text (the review page checked them before storing).
-#}
{% macro auto_accepted(kind, type_column, currency_column, confidence_column, amount_column, default_expression) %}
    {%- set rules = [] -%}
    {%- for rule in var('auto_accept_policy', []) if rule['kind'] == kind -%}
        {%- set item_type = rule['item_type'] | string -%}
        {%- set currency = rule['currency'] | string -%}
        {%- set confidence = rule['min_confidence'] | string -%}
        {%- set amount = rule['max_amount_minor'] | string -%}
        {%- if not (modules.re.fullmatch('[a-z][a-z_]{0,63}', item_type)
                and modules.re.fullmatch('[a-z]{3}', currency)
                and modules.re.fullmatch('(0(\\.[0-9]{1,4})?|1(\\.0{1,4})?)', confidence)
                and modules.re.fullmatch('[0-9]{1,18}', amount)) -%}
            {{ exceptions.raise_compiler_error('auto_accept_policy: a rule that is not well formed: ' ~ rule) }}
        {%- endif -%}
        {%- do rules.append([item_type, currency, confidence, amount]) -%}
    {%- endfor -%}
    {%- if rules -%}
    case
        {%- for item_type, currency, confidence, amount in rules %}
        when {{ type_column }} = '{{ item_type }}' and {{ currency_column }} = '{{ currency }}'
            then coalesce({{ confidence_column }} >= {{ confidence }} and abs({{ amount_column }}) <= {{ amount }}, false)
        {%- endfor %}
        else {{ default_expression }}
    end
    {%- else -%}
    {{ default_expression }}
    {%- endif -%}
{% endmacro %}
