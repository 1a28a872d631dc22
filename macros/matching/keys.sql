{#-
    Keys that compare what two books wrote differently: a reference whatever its punctuation or
    case, the digits of a document number, a customer's name whatever its order, case,
    punctuation or legal form.
-#}

{#- Letters and digits only, upper case: `inv-100231`, `INV 100231` and `INV100231` are one key. -#}
{% macro reference_key(expression) -%}
    nullif(upper(regexp_replace({{ expression }}, '[^A-Za-z0-9]', '', 'g')), '')
{%- endmacro %}

{#- The digits of a reference without leading zeros (`INV-000231` -> `231`), null when none. -#}
{% macro digits_key(expression) -%}
    nullif(ltrim(regexp_replace({{ expression }}, '[^0-9]', '', 'g'), '0'), '')
{%- endmacro %}

{#-
    A customer's name as a key: lower case, accents and punctuation removed, the words of
    var customer_name_noise_words (legal forms such as gmbh, inc, ltd) left out, the remaining
    words sorted, so that "Miller, Joseph", "JOSEPH MILLER" and "Joseph Miller GmbH" are one key.
-#}
{% macro customer_name_key(expression) -%}
    {{ return(adapter.dispatch('customer_name_key', 'recon')(expression)) }}
{%- endmacro %}

{% macro default__customer_name_key(expression) -%}
    nullif(array_to_string(array(
        select word
        from unnest(string_to_array(trim(regexp_replace(
            regexp_replace(lower({{ expression }}), '[^[:alnum:]]+', ' ', 'g'),
            '\y({{ var('customer_name_noise_words') | join('|') }})\y|\s+', ' ', 'g'
        )), ' ')) as word
        where word <> ''
        order by word
    ), ' '), '')
{%- endmacro %}

{% macro duckdb__customer_name_key(expression) -%}
    nullif(array_to_string(list_sort(string_split(trim(regexp_replace(regexp_replace(
        regexp_replace(lower(strip_accents({{ expression }})), '[^a-z0-9]+', ' ', 'g'),
        '\b({{ var('customer_name_noise_words') | join('|') }})\b', ' ', 'g'
    ), ' +', ' ', 'g')), ' ')), ' '), '')
{%- endmacro %}

