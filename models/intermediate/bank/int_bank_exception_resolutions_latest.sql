{#-
    The resolution in force of each object whose bank exception a person resolved (the review
    page or the CSV decisions, with a type of var bank_exception_types): its latest (the review
    page's on a tie, then the type's name), as int_exception_resolutions_latest does for the
    classified exceptions. fct_bank_exceptions shows it and takes the exception out of the queue.
    A view, as its staging model.
-#}
{{ config(materialized='view') }}

{{ resolutions_in_force(bank_types=true) }}
