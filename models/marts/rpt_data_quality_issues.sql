{#-
    One row per data-quality finding about the books as they were loaded: what the warn-severity
    dbt tests find, where a controller sees it. Real books are never referentially clean, so
    none of this stops a build (DECISIONLOG.md, "Data quality never stops the marts"):
    - ERP payments applied to a document that is not in the export, or that the load quarantined
      (with the file, line and reason of the refused row);
    - journals naming a document that is not in the export (or was quarantined);
    - GL accounts used by journal lines but given no role by the ERP's gl_accounts or the seed;
    - journals whose debits and credits differ (per currency), with their refused lines counted;
    - decisions naming objects that exist on neither side;
    - Stripe refunds and disputes whose charge was not loaded (or was quarantined).
    Rows the load refused are not repeated here: they are in the quarantine (stg_erp__quarantine,
    stg_stripe__quarantine), and the summary counts both.
-#}
with

payments as (
    select * from {{ ref('stg_erp__payments') }}
),

invoices as (
    select * from {{ ref('stg_erp__invoices') }}
),

gl_lines as (
    select * from {{ ref('int_gl_lines_classified') }}
),

erp_quarantine as (
    select * from {{ ref('stg_erp__quarantine') }}
),

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

stripe_quarantine as (
    select * from {{ ref('stg_stripe__quarantine') }}
),

-- The first refusal of each ERP document key (a document refused twice shows its first line).
quarantined_documents as (
    select
        row_key as document_number,
        quarantine_id,
        source_file,
        line_number,
        reason
    from (
        select
            erp_quarantine.*,
            row_number() over (
                partition by erp_quarantine.row_key
                order by erp_quarantine.source_file, erp_quarantine.line_number
            ) as refusal_rank
        from erp_quarantine
        where erp_quarantine.table_name = 'invoices'
            and erp_quarantine.row_key is not null
    ) as ranked
    where refusal_rank = 1
),

-- ERP documents a row names but the accepted books do not hold, and why.
document_references as (
    select
        'payments' as table_name,
        payment_number as row_key,
        'payment ' || payment_number as subject,
        document_number,
        currency,
        amount_minor
    from payments
    where document_number is not null
    union all
    select
        'gl_entries' as table_name,
        journal_number || '|' || document_number || '|' || currency as row_key,
        'journal ' || journal_number as subject,
        document_number,
        currency,
        sum(debit_minor) as amount_minor
    from gl_lines
    where document_number is not null
    group by journal_number, document_number, currency
),

document_issues as (
    select
        case
            when document_references.table_name = 'payments' and quarantined_documents.document_number is null
                then 'payment_document_not_in_export'
            when document_references.table_name = 'payments'
                then 'payment_document_quarantined'
            when quarantined_documents.document_number is null
                then 'journal_document_not_in_export'
            else 'journal_document_quarantined'
        end as issue_kind,
        'erp' as source,
        document_references.table_name,
        document_references.row_key,
        document_references.document_number as referenced_key,
        case
            when quarantined_documents.document_number is null
                then document_references.subject || ' names document ' || document_references.document_number
                    || ', which is not in the ERP export of invoices and credit memos'
            else document_references.subject || ' names document ' || document_references.document_number
                || ', which the load quarantined (' || quarantined_documents.source_file || ' line '
                || cast(quarantined_documents.line_number as {{ dbt.type_string() }}) || ': '
                || quarantined_documents.reason || ')'
        end as detail,
        document_references.currency,
        document_references.amount_minor,
        quarantined_documents.quarantine_id
    from document_references
    left join invoices
        on document_references.document_number = invoices.document_number
    left join quarantined_documents
        on document_references.document_number = quarantined_documents.document_number
    where invoices.document_number is null
),

accounts_without_role as (
    select
        account_number,
        currency,
        max(account_name) as account_name,
        count(*) as line_count,
        min(posting_date) as first_posting_date,
        max(posting_date) as last_posting_date,
        sum(signed_amount_minor) as net_minor
    from gl_lines
    where account_role is null
    group by account_number, currency
),

account_issues as (
    select
        'gl_account_without_role' as issue_kind,
        'erp' as source,
        'gl_entries' as table_name,
        account_number || '|' || currency as row_key,
        account_number as referenced_key,
        'account ' || account_number || coalesce(' (' || account_name || ')', '')
        || ' has no role in the ERP''s gl_accounts nor the seed gl_accounts: '
        || cast(line_count as {{ dbt.type_string() }}) || ' ' || upper(currency) || ' line(s) from '
        || cast(first_posting_date as {{ dbt.type_string() }}) || ' to '
        || cast(last_posting_date as {{ dbt.type_string() }})
        || ' are not read as bank, clearing, fee or chargeback lines; give it a role in gl_accounts.csv'
            as detail,
        currency,
        net_minor as amount_minor,
        cast(null as {{ dbt.type_string() }}) as quarantine_id
    from accounts_without_role
),

refused_gl_lines as (
    select
        split_part(row_key, '|', 1) as journal_number,
        count(*) as refused_line_count
    from erp_quarantine
    where table_name = 'gl_entries'
        and row_key is not null
    group by split_part(row_key, '|', 1)
),

journal_totals as (
    select
        journal_number,
        currency,
        sum(debit_minor) as debit_minor,
        sum(credit_minor) as credit_minor
    from gl_lines
    group by journal_number, currency
    having sum(debit_minor) <> sum(credit_minor)
),

journal_issues as (
    select
        'journal_unbalanced' as issue_kind,
        'erp' as source,
        'gl_entries' as table_name,
        journal_totals.journal_number || '|' || journal_totals.currency as row_key,
        journal_totals.journal_number as referenced_key,
        'journal ' || journal_totals.journal_number || ' does not balance in ' || upper(journal_totals.currency)
        || ': debits ' || cast(journal_totals.debit_minor as {{ dbt.type_string() }})
        || ', credits ' || cast(journal_totals.credit_minor as {{ dbt.type_string() }}) || ' (minor units)'
        || coalesce(
            '; the load quarantined ' || cast(refused_gl_lines.refused_line_count as {{ dbt.type_string() }})
            || ' of its line(s)',
            ''
        ) as detail,
        journal_totals.currency,
        journal_totals.debit_minor - journal_totals.credit_minor as amount_minor,
        cast(null as {{ dbt.type_string() }}) as quarantine_id
    from journal_totals
    left join refused_gl_lines
        on journal_totals.journal_number = refused_gl_lines.journal_number
),

stripe_objects as (
    select charge_id as object_id from charges
    union all
    select refund_id as object_id from refunds
    union all
    select dispute_id as object_id from disputes
    union all
    select payout_id as object_id from payouts
),

journals as (
    select distinct journal_number from gl_lines
),

erp_objects as (
    select payment_number as object_id from payments
    union all
    select document_number as object_id from invoices
    union all
    select journal_number as object_id from journals
),

match_decisions_checked as (
    select
        match_decisions.*,
        stripe_objects.object_id is null as is_stripe_unknown,
        match_decisions.erp_document_number is not null and invoices.document_number is null
            as is_document_unknown,
        match_decisions.erp_payment_number is not null and payments.payment_number is null
            as is_payment_unknown,
        match_decisions.erp_journal_number is not null and journals.journal_number is null
            as is_journal_unknown
    from match_decisions
    left join stripe_objects
        on match_decisions.stripe_object_id = stripe_objects.object_id
    left join invoices
        on match_decisions.erp_document_number = invoices.document_number
    left join payments
        on match_decisions.erp_payment_number = payments.payment_number
    left join journals
        on match_decisions.erp_journal_number = journals.journal_number
),

match_decision_issues as (
    select
        'decision_unknown_object' as issue_kind,
        'decisions' as source,
        'match_decisions' as table_name,
        match_decision_key as row_key,
        stripe_object_id as referenced_key,
        'the ' || decision || ' pair ' || match_decision_key || ' names '
        || {{ rtrim_characters(
            "case when is_stripe_unknown then stripe_object_id || ' (not in Stripe), ' else '' end
            || case when is_document_unknown then erp_document_number || ' (not an ERP document), ' else '' end
            || case when is_payment_unknown then erp_payment_number || ' (not an ERP payment), ' else '' end
            || case when is_journal_unknown then erp_journal_number || ' (not an ERP journal), ' else '' end",
            ', '
        ) }} as detail,
        cast(null as {{ dbt.type_string() }}) as currency,
        cast(null as {{ dbt.type_bigint() }}) as amount_minor,
        cast(null as {{ dbt.type_string() }}) as quarantine_id
    from match_decisions_checked
    where is_stripe_unknown
        or is_document_unknown
        or is_payment_unknown
        or is_journal_unknown
),

resolution_issues as (
    select
        'decision_unknown_object' as issue_kind,
        'decisions' as source,
        'exception_resolutions' as table_name,
        exception_resolutions.object_id || '|' || exception_resolutions.exception_type as row_key,
        exception_resolutions.object_id as referenced_key,
        'the resolution of ' || exception_resolutions.exception_type || ' ' || exception_resolutions.object_id
        || ' names an object that is neither in Stripe nor in the ERP books' as detail,
        cast(null as {{ dbt.type_string() }}) as currency,
        cast(null as {{ dbt.type_bigint() }}) as amount_minor,
        cast(null as {{ dbt.type_string() }}) as quarantine_id
    from exception_resolutions
    left join stripe_objects
        on exception_resolutions.object_id = stripe_objects.object_id
    left join erp_objects
        on exception_resolutions.object_id = erp_objects.object_id
    where stripe_objects.object_id is null
        and erp_objects.object_id is null
),

-- The first refusal of each Stripe object the load quarantined.
quarantined_stripe_objects as (
    select
        object_id,
        quarantine_id,
        reason
    from (
        select
            stripe_quarantine.*,
            row_number() over (
                partition by stripe_quarantine.object_id
                order by stripe_quarantine.quarantined_at, stripe_quarantine.quarantine_id
            ) as refusal_rank
        from stripe_quarantine
        where stripe_quarantine.object_id is not null
    ) as ranked
    where refusal_rank = 1
),

charge_references as (
    select
        'refunds' as table_name,
        'refund_charge_not_loaded' as issue_kind,
        refund_id as object_id,
        'refund ' || refund_id as subject,
        charge_id,
        currency,
        amount_minor
    from refunds
    where charge_id is not null
    union all
    select
        'disputes' as table_name,
        'dispute_charge_not_loaded' as issue_kind,
        dispute_id as object_id,
        'dispute ' || dispute_id as subject,
        charge_id,
        currency,
        amount_minor
    from disputes
    where charge_id is not null
),

stripe_issues as (
    select
        charge_references.issue_kind,
        'stripe' as source,
        charge_references.table_name,
        charge_references.object_id as row_key,
        charge_references.charge_id as referenced_key,
        charge_references.subject || ' is of charge ' || charge_references.charge_id || ', which '
        || coalesce(
            'the load quarantined (' || quarantined_stripe_objects.reason || ')',
            'is not in the warehouse'
        ) as detail,
        charge_references.currency,
        charge_references.amount_minor,
        quarantined_stripe_objects.quarantine_id
    from charge_references
    left join charges
        on charge_references.charge_id = charges.charge_id
    left join quarantined_stripe_objects
        on charge_references.charge_id = quarantined_stripe_objects.object_id
    where charges.charge_id is null
),

findings as (
    select * from document_issues
    union all
    select * from account_issues
    union all
    select * from journal_issues
    union all
    select * from match_decision_issues
    union all
    select * from resolution_issues
    union all
    select * from stripe_issues
),

final as (
    select
        {{ hash_key(['issue_kind', 'source', 'table_name', 'row_key']) }} as issue_id,
        issue_kind,
        source,
        table_name,
        row_key,
        referenced_key,
        detail,
        currency,
        cast(amount_minor as {{ dbt.type_bigint() }}) as amount_minor,
        quarantine_id
    from findings
)

select * from final
