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

{#-
    Spark: the same Jaro-Winkler as PostgreSQL's, with higher-order functions instead of a
    recursive CTE (a row's value cannot be a recursive query there). Each `transform(array(x),
    name -> ...)[0]` only names a value for what follows: the strings and the window (`jw_s`),
    the scan (`aggregate` over the left string's letters, keeping the right string's used letters
    and the left's hits as '0'/'1' texts), the matched letters of each side in order (`jw_c`),
    Jaro and the common prefix (`jw_f`), and the Winkler step computed exactly in decimals and
    rounded half to even as DuckDB's fused multiply-add does (see the PostgreSQL variant).
-#}
{% macro spark__string_similarity(left, right) -%}
    (case when {{ left }} is null or {{ right }} is null then cast(0 as double) else transform(
        array(named_struct(
            'a', lower({{ left }}),
            'b', lower({{ right }}),
            'la', length(lower({{ left }})),
            'lb', length(lower({{ right }})),
            'bound', greatest(greatest(length(lower({{ left }})), length(lower({{ right }}))) div 2 - 1, 0)
        )),
        jw_s -> transform(
            array(aggregate(
                filter(sequence(1, greatest(jw_s.la, 1)), jw_i -> jw_i <= jw_s.la),
                named_struct('used', repeat('0', jw_s.lb), 'hits', ''),
                (jw_acc, jw_i) -> transform(
                    array(array_min(filter(
                        sequence(greatest(1, jw_i - jw_s.bound), greatest(1, least(jw_s.lb, jw_i + jw_s.bound))),
                        jw_j -> jw_j >= jw_i - jw_s.bound
                            and jw_j <= least(jw_s.lb, jw_i + jw_s.bound)
                            and substr(jw_s.b, jw_j, 1) = substr(jw_s.a, jw_i, 1)
                            and substr(jw_acc.used, jw_j, 1) = '0'
                    ))),
                    jw_j -> named_struct(
                        'used', case when jw_j is null then jw_acc.used
                            else overlay(jw_acc.used placing '1' from jw_j for 1) end,
                        'hits', concat(jw_acc.hits, case when jw_j is null then '0' else '1' end)
                    )
                )[0]
            )),
            jw_scan -> transform(
                array(named_struct(
                    'a_chars', transform(
                        filter(sequence(1, greatest(jw_s.la, 1)),
                            jw_k -> jw_k <= jw_s.la and substr(jw_scan.hits, jw_k, 1) = '1'),
                        jw_k -> substr(jw_s.a, jw_k, 1)
                    ),
                    'b_chars', transform(
                        filter(sequence(1, greatest(jw_s.lb, 1)),
                            jw_k -> jw_k <= jw_s.lb and substr(jw_scan.used, jw_k, 1) = '1'),
                        jw_k -> substr(jw_s.b, jw_k, 1)
                    ),
                    'prefix_limit', least(4, jw_s.la, jw_s.lb)
                )),
                jw_c -> transform(
                    array(named_struct(
                        'sim', case when size(jw_c.a_chars) = 0 then cast(0 as double) else (
                            cast(size(jw_c.a_chars) as double) / jw_s.la
                            + cast(size(jw_c.a_chars) as double) / jw_s.lb
                            + cast(size(jw_c.a_chars) - size(filter(
                                sequence(1, greatest(size(jw_c.a_chars), 1)),
                                jw_k -> jw_k <= size(jw_c.a_chars)
                                    and element_at(jw_c.a_chars, jw_k) <> element_at(jw_c.b_chars, jw_k)
                            )) div 2 as double) / size(jw_c.a_chars)
                        ) / cast(3 as double) end,
                        'prefix', coalesce(array_min(filter(
                            sequence(1, greatest(jw_c.prefix_limit, 1)),
                            jw_k -> jw_k <= jw_c.prefix_limit and substr(jw_s.a, jw_k, 1) <> substr(jw_s.b, jw_k, 1)
                        )) - 1, jw_c.prefix_limit)
                    )),
                    jw_f -> case when jw_f.sim <= 0.7D then jw_f.sim else transform(
                        array(
                            cast(cast((jw_f.prefix * 0.1D) * 72057594037927936D as bigint) as decimal(38, 0))
                            * (9007199254740992 - cast(jw_f.sim * 9007199254740992D as bigint))
                            + cast(cast(jw_f.sim * 9007199254740992D as bigint) as decimal(38, 0)) * 72057594037927936
                        ),
                        jw_e -> cast(
                            (jw_e div 72057594037927936)
                            + case when pmod(jw_e, 72057594037927936) > 36028797018963968
                                or (pmod(jw_e, 72057594037927936) = 36028797018963968
                                    and pmod(jw_e div 72057594037927936, 2) = 1)
                                then 1 else 0 end
                            as double) / 9007199254740992D
                    )[0] end
                )[0]
            )[0]
        )[0]
    )[0] end)
{%- endmacro %}
