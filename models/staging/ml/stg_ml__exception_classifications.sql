{#-
    A classifications table written before `type_source` existed (an older recon) still
    builds: the column is null until the next `recon classify` rewrites the table.
    With RECON_RULES_ONLY=1 (`recon run --rules-only`) it is empty: the rule-based types stand,
    whatever an earlier run classified.
-#}
{%- set has_type_source = namespace(value=true) -%}
{%- if execute -%}
    {%- set existing = load_relation(source('ml', 'ml_exception_classifications')) -%}
    {%- if existing is not none -%}
        {%- set names = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
        {%- set has_type_source.value = 'type_source' in names -%}
    {%- endif -%}
{%- endif -%}

with

source as (
    select * from {{ source_or_empty('ml', 'ml_exception_classifications', {
        'exception_id': dbt.type_string(),
        'exception_type': dbt.type_string(),
        'disposition': dbt.type_string(),
        'confidence': dbt.type_float(),
        'model_version': dbt.type_string(),
        'classified_at': dbt.type_timestamp(),
        'type_source': dbt.type_string(),
    }) }} as ml_exception_classifications
),

renamed as (
    select
        exception_id,
        exception_type,
        disposition,
        cast(confidence as numeric(5, 4)) as confidence,
        model_version,
        classified_at,
        {% if has_type_source.value -%}
            type_source
        {%- else -%}
            cast(null as {{ dbt.type_string() }}) as type_source
        {%- endif %}
    from source
    {%- if env_var('RECON_RULES_ONLY', '0') in ('1', 'true') %}
    where 1 = 0
    {%- endif %}
)

select * from renamed
