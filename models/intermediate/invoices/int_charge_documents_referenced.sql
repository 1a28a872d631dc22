{#-
    One row per succeeded charge and ERP document number it names: in its metadata
    (`invoice_number`, possibly a comma-separated list), its description ("Payment for
    INV-1 and INV-2") or the metadata of the Stripe invoice it paid (`erp_document_number`).
    Document numbers are found with the var erp_document_number_pattern.
-#}
with

charges as (
    select * from {{ ref('int_charges_enriched') }}
),

texts as (
    select
        charge_id,
        'metadata' as reference_source,
        metadata_invoice_number as reference_text
    from charges
    where metadata_invoice_number is not null
    union all
    select
        charge_id,
        'description' as reference_source,
        description as reference_text
    from charges
    where description is not null
    union all
    select
        charge_id,
        'stripe_invoice' as reference_source,
        stripe_invoice_erp_document_number as reference_text
    from charges
    where stripe_invoice_erp_document_number is not null
),

extracted as (
    select
        charge_id,
        reference_source,
        {{ regexp_each('reference_text', var('erp_document_number_pattern')) }} as document_number
    from texts
),

final as (
    select
        charge_id,
        document_number,
        min(reference_source) as reference_source,
        count(*) as reference_count
    from extracted
    where document_number is not null
    group by charge_id, document_number
)

select * from final
