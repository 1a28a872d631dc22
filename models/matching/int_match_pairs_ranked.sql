{#-
    Spark only: the assignment's candidate pairs (macro assignment_pairs) as a table, which
    int_matches_assigned reads there instead of its CTEs. Spark plans a CTE anew at every reference,
    and the one model's plan grew beyond the driver's memory (DECISIONLOG.md, "The assignment on
    Spark"). DuckDB and PostgreSQL keep the CTEs in int_matches_assigned.
-#}
{{ config(enabled=target.type == 'spark') }}
with

{{ assignment_pairs() }}

select * from pairs
