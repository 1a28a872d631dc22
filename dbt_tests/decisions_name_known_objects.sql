{#-
    Every decision names objects the warehouse holds: a match decision's Stripe object is in
    Stripe and its ERP numbers in the ERP books; a resolution's object is on one side or the
    other. A decision about an object no side has (a typo, books loaded without it) is the
    team's own state: it warns and lands in rpt_data_quality_issues (`decision_unknown_object`).
-#}
{{ config(severity='warn') }}

with

match_decisions as (
    select * from {{ ref('stg_decisions__match_decisions') }}
),

exception_resolutions as (
    select * from {{ ref('stg_decisions__exception_resolutions') }}
),

charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

refunds as (
    select * from {{ ref('stg_stripe__refunds') }}
),

disputes as (
    select * from {{ ref('stg_stripe__disputes') }}
),

payouts as (
    select * from {{ ref('stg_stripe__payouts') }}
),

invoices as (
    select * from {{ ref('stg_erp__invoices') }}
),

payments as (
    select * from {{ ref('stg_erp__payments') }}
),

gl_entries as (
    select * from {{ ref('stg_erp__gl_entries') }}
),

stripe_ids as (
    select charge_id as object_id from charges
    union
    select refund_id as object_id from refunds
    union
    select dispute_id as object_id from disputes
    union
    select payout_id as object_id from payouts
),

erp_ids as (
    select document_number as object_id from invoices
    union
    select payment_number as object_id from payments
    union
    select journal_number as object_id from gl_entries
),

unknown_in_match_decisions as (
    select match_decisions.match_decision_key as decision_key
    from match_decisions
    where match_decisions.stripe_object_id not in (select stripe_ids.object_id from stripe_ids)
        or match_decisions.erp_document_number not in (select invoices.document_number from invoices)
        or match_decisions.erp_payment_number not in (select payments.payment_number from payments)
        or match_decisions.erp_journal_number not in (select gl_entries.journal_number from gl_entries)
),

unknown_in_resolutions as (
    select exception_resolutions.object_id || '|' || exception_resolutions.exception_type as decision_key
    from exception_resolutions
    where exception_resolutions.object_id not in (select stripe_ids.object_id from stripe_ids)
        and exception_resolutions.object_id not in (select erp_ids.object_id from erp_ids)
),

final as (
    select decision_key from unknown_in_match_decisions
    union all
    select decision_key from unknown_in_resolutions
)

select * from final
