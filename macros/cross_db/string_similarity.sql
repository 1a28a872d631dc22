{#-
    Similarity of two strings between 0 (nothing alike) and 1 (equal), case-insensitive.
    DuckDB: its Jaro-Winkler (prefix weight 0.1, at most 4 letters, only above 0.7).
    PostgreSQL: the same Jaro-Winkler in plain SQL, no extension (fuzzystrmatch has none), equal
    to DuckDB's to the last bit (a test compares both on thousands of pairs). Elsewhere a simple,
    portable fallback: 1 when equal after lower-casing and removing everything but letters and
    digits, 0.9 when one contains the other, else 0.
-#}
{% macro string_similarity(left, right) -%}
    {{ return(adapter.dispatch('string_similarity', 'recon')(left, right)) }}
{%- endmacro %}

{% macro default__string_similarity(left, right) -%}
    (case
        when {{ left }} is null or {{ right }} is null then 0.0
        when regexp_replace(lower({{ left }}), '[^a-z0-9]', '', 'g')
            = regexp_replace(lower({{ right }}), '[^a-z0-9]', '', 'g') then 1.0
        when strpos(lower({{ left }}), lower({{ right }})) > 0
            or strpos(lower({{ right }}), lower({{ left }})) > 0 then 0.9
        else 0.0
    end)
{%- endmacro %}

{% macro duckdb__string_similarity(left, right) -%}
    coalesce(jaro_winkler_similarity(lower({{ left }}), lower({{ right }})), 0.0)
{%- endmacro %}

{#-
    Jaro-Winkler as DuckDB computes it: `scan` walks the left string a letter at a time and takes
    the first unused equal letter of the right one within the window (half the longer length
    less one); the matched letters of each side in order give the transpositions (half the
    positions where they differ, rounded down); Jaro is (m/|a| + m/|b| + (m - t)/m) / 3 in
    double precision. Above 0.7 Winkler adds prefix * 0.1 * (1 - jaro), which DuckDB's compiled
    code does in one fused multiply-add (a single rounding): `fused` computes it exactly in
    integers (jaro is a multiple of 2^-53 there, prefix * 0.1 of 2^-56) and `rounded` rounds it
    half to even, so a pair at exactly 0.9 is `similar` on both targets or on neither.
    Evaluated per row only when both names are present and differ (the caller's case).
-#}
{% macro postgres__string_similarity(left, right) -%}
    (case when {{ left }} is null or {{ right }} is null then 0.0::float8 else (
        with recursive
        strings as (
            select
                lower({{ left }}) as a,
                lower({{ right }}) as b
        ),
        sizes as (
            select
                a,
                b,
                length(a) as la,
                length(b) as lb,
                greatest(greatest(length(a), length(b)) / 2 - 1, 0) as bound
            from strings
        ),
        scan (i, b_used, a_hits) as (
            select 0, repeat('0', lb), ''::text from sizes
            union all
            select
                scan.i + 1,
                case when hit.j is null then scan.b_used else overlay(scan.b_used placing '1' from hit.j for 1) end,
                scan.a_hits || case when hit.j is null then '0' else '1' end
            from scan
            cross join sizes
            cross join lateral (
                select min(j) as j
                from generate_series(greatest(1, scan.i + 1 - sizes.bound), least(sizes.lb, scan.i + 1 + sizes.bound)) as j
                where substr(sizes.b, j, 1) = substr(sizes.a, scan.i + 1, 1) and substr(scan.b_used, j, 1) = '0'
            ) as hit
            where scan.i < sizes.la
        ),
        matched as (
            select
                sizes.*,
                coalesce((select string_agg(substr(a, k, 1), '' order by k) from generate_series(1, la) as k
                    where substr(a_hits, k, 1) = '1'), '') as a_chars,
                coalesce((select string_agg(substr(b, k, 1), '' order by k) from generate_series(1, lb) as k
                    where substr(b_used, k, 1) = '1'), '') as b_chars
            from scan cross join sizes
            where scan.i = sizes.la
        ),
        counted as (
            select
                la,
                lb,
                length(a_chars) as m,
                (select count(*) from generate_series(1, length(a_chars)) as k
                    where substr(a_chars, k, 1) <> substr(b_chars, k, 1)) / 2 as t,
                coalesce((select min(k) - 1 from generate_series(1, least(4, la, lb)) as k
                    where substr(a, k, 1) <> substr(b, k, 1)), least(4, la, lb)) as prefix
            from matched
        ),
        jaro as (
            select
                prefix,
                case when m = 0 then 0.0::float8
                    else (m::float8 / la + m::float8 / lb + (m - t)::float8 / m) / 3.0::float8 end as sim
            from counted
        ),
        scaled as (
            select
                sim,
                (sim * 9007199254740992::float8)::bigint as sim_units,
                ((prefix::float8 * 0.1::float8) * 72057594037927936::float8)::bigint as weight_units
            from jaro
        ),
        fused as (
            select
                sim,
                weight_units::numeric * (9007199254740992 - sim_units) + sim_units::numeric * 72057594037927936 as exact
            from scaled
        ),
        rounded as (
            select sim, div(exact, 72057594037927936) as units, mod(exact, 72057594037927936) as rest from fused
        )
        select case
            when sim <= 0.7::float8 then sim
            else (units + case when rest > 36028797018963968 or (rest = 36028797018963968 and mod(units, 2) = 1)
                then 1 else 0 end)::float8 / 9007199254740992::float8
        end
        from rounded
    ) end)
{%- endmacro %}
