{#- Whether the scored matching proposes pairs: var match_scorer_enabled, unless RECON_RULES_ONLY
    is set (`recon run --rules-only`: the analysts' rules alone, a baseline to compare with). -#}
{% macro scored_matching_enabled() -%}
    {{ 'true' if var('match_scorer_enabled') and env_var('RECON_RULES_ONLY', '0') not in ('1', 'true') else 'false' }}
{%- endmacro %}
