{#-
    One row per candidate pair a matching rule found (models/matching/rules/, one model a
    rule, listed in the var `matching_rules`), plus the pairs analysts confirmed.

    Rule discovery: dbt's `graph` is empty while parsing, so a loop over tagged models cannot
    create the dependencies; the list lives in one place (dbt_project.yml, var
    `matching_rules`). At run time, when the graph is known, this model fails with a clear
    message if a model tagged `matching_rule` is missing from the list (and a pytest test checks
    the folder against the list), so a forgotten registration never goes unnoticed.
-#}
{#- A view: the rules are tables, so the union only appends their rows where it is read
    (int_matches_resolved), instead of copying them all into one more table. -#}
{{ config(materialized='view') }}
{%- set rules = var('matching_rules') -%}
{#- The output shape every rule shares (README: how an analyst adds a matching rule). -#}
{%- set rule_columns = [
    'stripe_object_id', 'erp_document_number', 'erp_payment_number', 'erp_journal_number',
    'match_type', 'rule_name', 'priority', 'confidence', 'currency', 'stripe_amount_minor',
    'erp_currency', 'erp_amount_minor', 'days_apart', 'allows_split',
] -%}
{%- if execute -%}
    {%- set tagged = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and 'matching_rule' in node.tags -%}
            {%- do tagged.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set missing = tagged | reject('in', rules) | list -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            "Matching rule model(s) " ~ missing | join(', ')
            ~ " are not in the var matching_rules of dbt_project.yml: add them there.") }}
    {%- endif -%}
{%- endif %}

with

{% for rule in rules %}
    {{ rule }} as (
        select * from {{ ref(rule) }}
    ),

{% endfor %}
confirmed as (
    select * from {{ ref('int_match_decisions_confirmed') }}
),

unioned as (
    {%- for rule in rules %}
        select {{ rule_columns | join(', ') }}
        from {{ rule }}
        union all
    {%- endfor %}
    select {{ rule_columns | join(', ') }}
    from confirmed
)

select * from unioned
