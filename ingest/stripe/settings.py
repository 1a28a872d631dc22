"""Constants of the Stripe source: the pinned API version, the resources read, their columns.

Every field of each object at the pinned API version is declared here, so the raw tables have
every column even when no object has used it yet (dlt does not create a column that has been
null in every row so far). Nested objects are flattened with `__` like dlt does
(`billing_details__address__city`); lists and free-form maps (`metadata`, `fee_details`) are
kept as JSON text, read in staging with the `json_text` macro. A field the pinned version does
not know lands in the `_extra` JSON column instead of being dropped.
"""

from __future__ import annotations

from typing import Final, Literal

API_VERSION: Final = "2025-02-24.acacia"
PAGE_LIMIT: Final = 100

# Requests per second Stripe allows: test mode 25/s, live mode 100/s.
DEFAULT_MAX_RPS_TEST: Final = 25.0
DEFAULT_MAX_RPS_LIVE: Final = 100.0
DEFAULT_WORKERS: Final = 8

# Bounded retries: 429 honours Retry-After and the rate cap; 5xx and network errors back off.
MAX_ATTEMPTS: Final = 6
BACKOFF_INITIAL_S: Final = 0.25
BACKOFF_MAX_S: Final = 8.0
# An API that accepts the connection and never answers: each request waits at most
# CONNECT_TIMEOUT_S to connect and the run's --stripe-timeout (RECON_STRIPE_TIMEOUT, 20 s) for an
# answer, and no retry starts once RETRY_BUDGET_S have passed since the request's first attempt:
# with the defaults a silent API fails the ingest within RETRY_BUDGET_S + 5 + 20 = 145 s, where the
# library's defaults (80 s x 6 attempts) took 8 minutes.
CONNECT_TIMEOUT_S: Final = 5.0
RETRY_BUDGET_S: Final = 120.0

# How far back each run re-reads objects that may still change after creation (seconds).
# Balance transactions become available up to ~14 days after creation in slow countries;
# payouts arrive within days; charges change by refunds and disputes, which events bring.
LOOKBACK_S: Final[dict[str, int]] = {
    "balance_transactions": 14 * 86_400,
    "payouts": 14 * 86_400,
    "customers": 86_400,
    "payment_intents": 86_400,
    "charges": 86_400,
    "refunds": 86_400,
    "disputes": 86_400,
    "invoices": 86_400,
    "events": 3_600,
}

ColumnType = Literal["text", "bigint", "bool", "json", "decimal"]

_ADDRESS = {f"address__{k}": "text" for k in ("city", "country", "line1", "line2", "postal_code", "state")}


def _prefixed(prefix: str, columns: dict[str, ColumnType]) -> dict[str, ColumnType]:
    return {f"{prefix}__{name}": kind for name, kind in columns.items()}


CHARGE_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "amount": "bigint", "amount_captured": "bigint",
    "amount_refunded": "bigint", "application": "text", "application_fee": "text",
    "application_fee_amount": "bigint", "balance_transaction": "text",
    **_prefixed("billing_details", {**_ADDRESS, "email": "text", "name": "text", "phone": "text"}),  # type: ignore[dict-item]
    "calculated_statement_descriptor": "text", "captured": "bool", "created": "bigint",
    "currency": "text", "customer": "text", "description": "text", "destination": "text",
    "dispute": "text", "disputed": "bool", "failure_balance_transaction": "text",
    "failure_code": "text", "failure_message": "text", "fraud_details": "json", "invoice": "text",
    "livemode": "bool", "metadata": "json", "on_behalf_of": "text",
    "outcome__advice_code": "text", "outcome__network_advice_code": "text",
    "outcome__network_decline_code": "text", "outcome__network_status": "text",
    "outcome__reason": "text", "outcome__risk_level": "text", "outcome__risk_score": "bigint",
    "outcome__rule": "json", "outcome__seller_message": "text", "outcome__type": "text",
    "paid": "bool", "payment_intent": "text", "payment_method": "text",
    "payment_method_details__type": "text",
    **_prefixed("payment_method_details__card", {
        "amount_authorized": "bigint", "authorization_code": "text", "brand": "text",
        "checks__address_line1_check": "text", "checks__address_postal_code_check": "text",
        "checks__cvc_check": "text", "country": "text", "exp_month": "bigint", "exp_year": "bigint",
        "extended_authorization": "json", "fingerprint": "text", "funding": "text",
        "incremental_authorization": "json", "installments": "json", "last4": "text",
        "mandate": "text", "multicapture": "json", "network": "text", "network_token": "json",
        "network_transaction_id": "text", "overcapture": "json", "regulated_status": "text",
        "three_d_secure": "json", "wallet": "json",
    }),
    "radar_options": "json", "receipt_email": "text", "receipt_number": "text",
    "receipt_url": "text", "refunded": "bool", "review": "text", "shipping": "json",
    "source_transfer": "text", "statement_descriptor": "text",
    "statement_descriptor_suffix": "text", "status": "text", "transfer_data": "json",
    "transfer_group": "text",
}

PAYMENT_INTENT_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "amount": "bigint", "amount_capturable": "bigint",
    "amount_details": "json", "amount_received": "bigint", "application": "text",
    "application_fee_amount": "bigint", "automatic_payment_methods": "json",
    "canceled_at": "bigint", "cancellation_reason": "text", "capture_method": "text",
    "client_secret": "text", "confirmation_method": "text", "created": "bigint",
    "currency": "text", "customer": "text", "description": "text", "invoice": "text",
    "last_payment_error": "json", "latest_charge": "text", "livemode": "bool", "metadata": "json",
    "next_action": "json", "on_behalf_of": "text", "payment_method": "text",
    "payment_method_configuration_details": "json", "payment_method_options": "json",
    "payment_method_types": "json", "processing": "json", "receipt_email": "text",
    "review": "text", "setup_future_usage": "text", "shipping": "json", "source": "text",
    "statement_descriptor": "text", "statement_descriptor_suffix": "text", "status": "text",
    "transfer_data": "json", "transfer_group": "text",
}

REFUND_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "amount": "bigint", "balance_transaction": "text",
    "charge": "text", "created": "bigint", "currency": "text", "description": "text",
    "destination_details": "json", "failure_balance_transaction": "text",
    "failure_reason": "text", "instructions_email": "text", "metadata": "json",
    "next_action": "json", "payment_intent": "text", "reason": "text", "receipt_number": "text",
    "source_transfer_reversal": "text", "status": "text", "transfer_reversal": "text",
}

DISPUTE_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "amount": "bigint", "balance_transactions": "json",
    "charge": "text", "created": "bigint", "currency": "text", "enhanced_eligibility_types": "json",
    "evidence": "json", "evidence_details__due_by": "bigint",
    "evidence_details__enhanced_eligibility": "json", "evidence_details__has_evidence": "bool",
    "evidence_details__past_due": "bool", "evidence_details__submission_count": "bigint",
    "is_charge_refundable": "bool", "livemode": "bool", "metadata": "json",
    "network_reason_code": "text", "payment_intent": "text", "payment_method_details": "json",
    "reason": "text", "status": "text",
}

BALANCE_TRANSACTION_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "amount": "bigint", "available_on": "bigint",
    "created": "bigint", "currency": "text", "description": "text", "exchange_rate": "decimal",
    "fee": "bigint", "fee_details": "json", "net": "bigint", "reporting_category": "text",
    "source": "text", "status": "text", "type": "text",
}

PAYOUT_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "amount": "bigint", "application_fee": "text",
    "application_fee_amount": "bigint", "arrival_date": "bigint", "automatic": "bool",
    "balance_transaction": "text", "created": "bigint", "currency": "text",
    "description": "text", "destination": "text", "failure_balance_transaction": "text",
    "failure_code": "text", "failure_message": "text", "livemode": "bool", "metadata": "json",
    "method": "text", "original_payout": "text", "reconciliation_status": "text",
    "reversed_by": "text", "source_type": "text", "statement_descriptor": "text",
    "status": "text", "trace_id": "json", "type": "text",
}

INVOICE_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "account_country": "text", "account_name": "text",
    "account_tax_ids": "json", "amount_due": "bigint", "amount_paid": "bigint",
    "amount_remaining": "bigint", "amount_shipping": "bigint", "application": "text",
    "application_fee_amount": "bigint", "attempt_count": "bigint", "attempted": "bool",
    "auto_advance": "bool", "automatic_tax": "json", "automatically_finalizes_at": "bigint",
    "billing_reason": "text", "charge": "text", "collection_method": "text", "created": "bigint",
    "currency": "text", "custom_fields": "json", "customer": "text", "customer_address": "json",
    "customer_email": "text", "customer_name": "text", "customer_phone": "text",
    "customer_shipping": "json", "customer_tax_exempt": "text", "customer_tax_ids": "json",
    "default_payment_method": "text", "default_source": "text", "default_tax_rates": "json",
    "description": "text", "discount": "json", "discounts": "json", "due_date": "bigint",
    "effective_at": "bigint", "ending_balance": "bigint", "footer": "text",
    "from_invoice": "json", "hosted_invoice_url": "text", "invoice_pdf": "text",
    "issuer": "json", "last_finalization_error": "json", "latest_revision": "text",
    "lines": "json", "livemode": "bool", "metadata": "json", "next_payment_attempt": "bigint",
    "number": "text", "on_behalf_of": "text", "paid": "bool", "paid_out_of_band": "bool",
    "payment_intent": "text", "payment_settings": "json", "period_end": "bigint",
    "period_start": "bigint", "post_payment_credit_notes_amount": "bigint",
    "pre_payment_credit_notes_amount": "bigint", "quote": "text", "receipt_number": "text",
    "rendering": "json", "shipping_cost": "json", "shipping_details": "json",
    "starting_balance": "bigint", "statement_descriptor": "text", "status": "text",
    "status_transitions__finalized_at": "bigint",
    "status_transitions__marked_uncollectible_at": "bigint",
    "status_transitions__paid_at": "bigint", "status_transitions__voided_at": "bigint",
    "subscription": "text", "subscription_details": "json", "subtotal": "bigint",
    "subtotal_excluding_tax": "bigint", "tax": "bigint", "test_clock": "text", "total": "bigint",
    "total_discount_amounts": "json", "total_excluding_tax": "bigint",
    "total_tax_amounts": "json", "transfer_data": "json", "webhooks_delivered_at": "bigint",
}

CUSTOMER_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "address": "json", "balance": "bigint", "created": "bigint",
    "currency": "text", "default_source": "text", "delinquent": "bool", "description": "text",
    "discount": "json", "email": "text", "invoice_prefix": "text",
    "invoice_settings": "json", "livemode": "bool", "metadata": "json", "name": "text",
    "next_invoice_sequence": "bigint", "phone": "text", "preferred_locales": "json",
    "shipping": "json", "tax_exempt": "text", "test_clock": "text",
}

EVENT_COLUMNS: dict[str, ColumnType] = {
    "id": "text", "object": "text", "account": "text", "api_version": "text",
    "context": "text", "created": "bigint", "data__object": "json",
    "data__previous_attributes": "json", "livemode": "bool", "pending_webhooks": "bigint",
    "request__id": "text", "request__idempotency_key": "text", "type": "text",
}

PAYOUT_COMPOSITION_COLUMNS: dict[str, ColumnType] = {
    "payout_id": "text", "balance_transaction_id": "text",
}

# Resource name -> (API path, columns). The order is the order of the reads.
RESOURCES: Final[dict[str, tuple[str, dict[str, ColumnType]]]] = {
    "customers": ("/v1/customers", CUSTOMER_COLUMNS),
    "payment_intents": ("/v1/payment_intents", PAYMENT_INTENT_COLUMNS),
    "charges": ("/v1/charges", CHARGE_COLUMNS),
    "refunds": ("/v1/refunds", REFUND_COLUMNS),
    "disputes": ("/v1/disputes", DISPUTE_COLUMNS),
    "invoices": ("/v1/invoices", INVOICE_COLUMNS),
    "balance_transactions": ("/v1/balance_transactions", BALANCE_TRANSACTION_COLUMNS),
    "payouts": ("/v1/payouts", PAYOUT_COLUMNS),
    "events": ("/v1/events", EVENT_COLUMNS),
}

# The `object` of an event's data.object -> the table its snapshot updates.
EVENT_OBJECT_TABLES: Final[dict[str, str]] = {
    "customer": "customers",
    "payment_intent": "payment_intents",
    "charge": "charges",
    "refund": "refunds",
    "dispute": "disputes",
    "invoice": "invoices",
    "balance_transaction": "balance_transactions",
    "payout": "payouts",
}

PAYOUT_FINAL_STATUSES: Final = frozenset({"paid", "failed", "canceled"})
