{#-
    The resolution in force of each resolved object: its latest (the review page's on a tie, then
    the type's name). Where a person resolved the same object twice, with two types, the later
    decision stands. The exceptions mart shows it and the classifier learns from it (ml/features.py).
    A view, as its staging model: `recon classify` reads the decisions as the raw tables hold them.
    Resolutions of the bank statements' exception types (var bank_exception_types) are left to
    int_bank_exception_resolutions_latest: a payout's bank exception resolved is not its two-way
    exception resolved, nor a label for the classifier.
-#}
{{ config(materialized='view') }}

{{ resolutions_in_force(bank_types=false) }}
