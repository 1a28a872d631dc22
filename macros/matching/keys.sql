{#-
    Keys that compare what two books wrote differently: a reference whatever its punctuation or
    case, the digits of a document number, a customer's name whatever its order, case,
    punctuation or legal form.
-#}

{#- Letters and digits only, upper case: `inv-100231`, `INV 100231` and `INV100231` are one key. -#}
{% macro reference_key(expression) -%}
    nullif(upper({{ regexp_replace_all(expression, '[^A-Za-z0-9]', '') }}), '')
{%- endmacro %}

{#- The digits of a reference without leading zeros (`INV-000231` -> `231`), null when none. -#}
{#- Every Stripe-style id (`ch_…`, `pi_…`, `in_…`, `txn_…`, any prefix) in a text, one row each. -#}
{% macro stripe_ids_in(expression) -%}
    {{ regexp_each(expression, '[A-Za-z]{2,5}_[A-Za-z0-9]{6,}') }}
{%- endmacro %}

{#-
    The rows of `references` (a CTE of reference_kind, reference_key, ...) without the document
    digits more than var reference_max_repeats different `holder`s carry: a number many items
    share (a year, a common amount, a batch number) is a stop word, not a document reference.
-#}
{% macro without_repeated_document_digits(references, holder) -%}
    select {{ references }}.*
    from {{ references }}
    left join (
        select
            reference_key,
            count(distinct {{ holder }}) as holders
        from {{ references }}
        where reference_kind = 'document_digits'
        group by reference_key
    ) as repeats
        on {{ references }}.reference_kind = 'document_digits'
        and {{ references }}.reference_key = repeats.reference_key
    where coalesce(repeats.holders, 0) <= {{ var('reference_max_repeats') }}
{%- endmacro %}

{% macro digits_key(expression) -%}
    {{ return(adapter.dispatch('digits_key', 'recon')(expression)) }}
{%- endmacro %}

{% macro default__digits_key(expression) -%}
    nullif(ltrim({{ regexp_replace_all(expression, '[^0-9]', '') }}, '0'), '')
{%- endmacro %}

{#- Spark: its two-argument ltrim takes the characters first; the SQL standard's form instead. -#}
{% macro spark__digits_key(expression) -%}
    nullif(trim(leading '0' from {{ regexp_replace_all(expression, '[^0-9]', '') }}), '')
{%- endmacro %}

{#-
    A customer's name as a key: lower case, accents and punctuation removed, the words of
    var customer_name_noise_words (legal forms such as gmbh, inc, ltd) left out, the remaining
    words sorted, so that "Miller, Joseph", "JOSEPH MILLER" and "Joseph Miller GmbH" are one key.
    The dot after a lone letter joins it to the next ("B.V." is bv, "G.m.b.H." gmbh, "J.P." jp),
    so an abbreviated legal form is a noise word too.
-#}
{% macro customer_name_key(expression) -%}
    {{ return(adapter.dispatch('customer_name_key', 'recon')(expression)) }}
{%- endmacro %}

{#-
    PostgreSQL: the same key as DuckDB's, character for character. Accents go first (macro
    strip_accents), then lower case; what is not a-z, 0-9, "_" or "." becomes a space before the
    lone-letter rule, because DuckDB's `\b` knows only ASCII word characters where PostgreSQL's
    `\y` knows every letter; words sort by byte ("C"), as DuckDB's list_sort does, whatever the
    database's collation.
-#}
{% macro default__customer_name_key(expression) -%}
    nullif(array_to_string(array(
        select word
        from unnest(string_to_array(trim(regexp_replace(regexp_replace(
            regexp_replace(
                regexp_replace(
                    regexp_replace(lower({{ strip_accents(expression) }}), '[^a-z0-9_.]', ' ', 'g'),
                    '\y([a-z])\.', '\1', 'g'
                ),
                '[^a-z0-9]+', ' ', 'g'
            ),
            '\y({{ var('customer_name_noise_words') | join('|') }})\y', ' ', 'g'
        ), ' +', ' ', 'g')), ' ')) as word
        where word <> ''
        order by word collate "C"
    ), ' '), '')
{%- endmacro %}

{% macro duckdb__customer_name_key(expression) -%}
    nullif(array_to_string(list_sort(string_split(trim(regexp_replace(regexp_replace(
        regexp_replace(
            regexp_replace(lower(strip_accents({{ expression }})), '\b([a-z])\.', '\1', 'g'), '[^a-z0-9]+', ' ', 'g'
        ),
        '\b({{ var('customer_name_noise_words') | join('|') }})\b', ' ', 'g'
    ), ' +', ' ', 'g')), ' ')), ' '), '')
{%- endmacro %}


{#-
    Spark: PostgreSQL's steps in Java's regular expressions (whose `\b`, like PostgreSQL's `\y`,
    knows every letter, so what is not a-z, 0-9, "_" or "." becomes a space first); `array_sort`
    orders words by their UTF-8 bytes, as DuckDB's list_sort does.
-#}
{% macro spark__customer_name_key(expression) -%}
    nullif(array_join(array_sort(filter(split(trim(regexp_replace(regexp_replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(lower({{ strip_accents(expression) }}), '[^a-z0-9_.]', ' '),
                '\\b([a-z])\\.', '$1'
            ),
            '[^a-z0-9]+', ' '
        ),
        '\\b({{ var('customer_name_noise_words') | join('|') }})\\b', ' '
    ), ' +', ' ')), ' '), word -> word <> '')), ' '), '')
{%- endmacro %}

{#-
    A coarser customer key from a name key (macro customer_name_key): its longest word whole and
    the others by their initial, so "Omar Dubois" and "O. Dubois" (and "Larsen Works" and "Larsen
    W.") meet. Coarse, so used to find candidates near in time, never alone as evidence.
-#}
{% macro customer_initials_key(name_key) -%}
    {{ return(adapter.dispatch('customer_initials_key', 'recon')(name_key)) }}
{%- endmacro %}

{% macro default__customer_initials_key(name_key) -%}
    (
        select string_agg(case when word_rank = 1 then word else left(word, 1) end, ' ' order by word_rank)
        from (
            select
                word,
                row_number() over (order by length(word) desc, word collate "C" asc) as word_rank
            from unnest(string_to_array({{ name_key }}, ' ')) as words (word)
        ) as ranked_words
    )
{%- endmacro %}

{% macro duckdb__customer_initials_key(name_key) -%}
    (
        select string_agg(case when word_rank = 1 then word else left(word, 1) end, ' ' order by word_rank)
        from (
            select
                word,
                row_number() over (order by length(word) desc, word asc) as word_rank
            from unnest(string_split({{ name_key }}, ' ')) as words (word)
        ) as ranked_words
    )
{%- endmacro %}

{#- Spark: the words ranked by a comparator (longest first, then by byte), then joined. -#}
{% macro spark__customer_initials_key(name_key) -%}
    array_join(transform(
        array_sort(split({{ name_key }}, ' '), (left_word, right_word) -> case
            when length(left_word) > length(right_word) then -1
            when length(left_word) < length(right_word) then 1
            when left_word < right_word then -1
            when left_word > right_word then 1
            else 0
        end),
        (word, word_index) -> case when word_index = 0 then word else left(word, 1) end
    ), ' ')
{%- endmacro %}
