"""Builders of Stripe API objects (API version 2025-02-24.acacia) for the demo world.

Pure functions: given the facts, return the dict exactly as the API would (every
documented top-level field present, nullable ones as null, keys in a fixed order so the
serialized bytes are deterministic). Money is always an int in minor units.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from random import Random
from typing import Any

import orjson

API_VERSION = "2025-02-24.acacia"
ACCOUNT_NAME = "Acme Analytics Inc."
STATEMENT_DESCRIPTOR = "ACME ANALYTICS"
_ALPHA = string.digits + string.ascii_letters

Obj = dict[str, Any]


class IdMaker:
    """Stripe-style ids from a seeded RNG: a prefix and random alphanumerics."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng

    def make(self, prefix: str, length: int = 24) -> str:
        return prefix + "".join(self._rng.choices(_ALPHA, k=length))

    def uuid(self) -> str:
        h = f"{self._rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


@dataclass(slots=True)
class Customer:
    """A Stripe customer and its ERP twin (kept in memory: the customers pool)."""

    index: int
    id: str
    created: int
    name: str
    email: str
    phone: str | None
    currency: str
    country: str
    city: str
    line1: str
    postal_code: str
    state: str | None
    invoice_prefix: str
    erp_number: str
    erp_name: str
    erp_email: str
    has_erp_metadata: bool
    pm_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    funding: str
    card_country: str
    next_invoice_sequence: int = 1


def address(c: Customer) -> Obj:
    return {
        "city": c.city,
        "country": c.country,
        "line1": c.line1,
        "line2": None,
        "postal_code": c.postal_code,
        "state": c.state,
    }


def customer_obj(c: Customer, next_invoice_sequence: int) -> Obj:
    return {
        "id": c.id,
        "object": "customer",
        "address": address(c),
        "balance": 0,
        "created": c.created,
        "currency": c.currency,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": c.email,
        "invoice_prefix": c.invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": c.pm_id,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {"erp_customer_number": c.erp_number} if c.has_erp_metadata else {},
        "name": c.name,
        "next_invoice_sequence": next_invoice_sequence,
        "phone": c.phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


_FAILURE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
}


def charge_obj(
    *,
    charge_id: str,
    c: Customer,
    amount: int,
    currency: str,
    created: int,
    pi_id: str,
    txn_id: str | None,
    failure_code: str | None,
    invoice_id: str | None,
    description: str | None,
    metadata: dict[str, str],
    amount_refunded: int,
    dispute_id: str | None,
    receipt_number: str | None,
    receipt_url: str | None,
    risk_score: int,
    authorization_code: str | None,
) -> Obj:
    failed = failure_code is not None
    if failed:
        outcome: Obj = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": "generic_decline",
            "risk_level": "normal",
            "risk_score": risk_score,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
    else:
        outcome = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": risk_score,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": 0 if failed else amount,
        "amount_refunded": amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": txn_id,
        "billing_details": {
            "address": address(c),
            "email": c.email,
            "name": c.name,
            "phone": c.phone,
        },
        "calculated_statement_descriptor": STATEMENT_DESCRIPTOR,
        "captured": not failed,
        "created": created,
        "currency": currency,
        "customer": c.id,
        "description": description,
        "destination": None,
        "dispute": dispute_id,
        "disputed": dispute_id is not None,
        "failure_balance_transaction": None,
        "failure_code": failure_code,
        "failure_message": _FAILURE_MESSAGES[failure_code] if failure_code else None,
        "fraud_details": {},
        "invoice": invoice_id,
        "livemode": False,
        "metadata": metadata,
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": not failed,
        "payment_intent": pi_id,
        "payment_method": c.pm_id,
        "payment_method_details": {
            "card": {
                "amount_authorized": None if failed else amount,
                "authorization_code": authorization_code,
                "brand": c.brand,
                "checks": {
                    "address_line1_check": "pass",
                    "address_postal_code_check": "pass",
                    "cvc_check": "pass",
                },
                "country": c.card_country,
                "exp_month": c.exp_month,
                "exp_year": c.exp_year,
                "extended_authorization": {"status": "disabled"},
                "fingerprint": c.fingerprint,
                "funding": c.funding,
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": c.last4,
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": c.brand,
                "network_token": {"used": False},
                "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        },
        "radar_options": {},
        "receipt_email": c.email,
        "receipt_number": receipt_number,
        "receipt_url": receipt_url,
        "refunded": amount_refunded == amount and amount > 0,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "failed" if failed else "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


def payment_intent_obj(
    *,
    pi_id: str,
    c: Customer,
    amount: int,
    currency: str,
    created: int,
    latest_charge: str,
    succeeded: bool,
    failure_code: str | None,
    invoice_id: str | None,
    description: str | None,
    metadata: dict[str, str],
    client_secret: str,
) -> Obj:
    last_error: Obj | None = None
    if not succeeded:
        last_error = {
            "charge": latest_charge,
            "code": failure_code,
            "decline_code": "generic_decline",
            "doc_url": f"https://stripe.com/docs/error-codes/{failure_code}",
            "message": _FAILURE_MESSAGES.get(failure_code or "", "Your card was declined."),
            "payment_method": {"id": c.pm_id, "object": "payment_method", "type": "card"},
            "type": "card_error",
        }
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount if succeeded else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": client_secret,
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": c.id,
        "description": description,
        "invoice": invoice_id,
        "last_payment_error": last_error,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None if not succeeded else c.pm_id,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": c.email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if succeeded else "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def fee_detail(amount: int, description: str) -> Obj:
    return {
        "amount": amount,
        "application": None,
        "currency": "usd",
        "description": description,
        "type": "stripe_fee",
    }


def balance_txn_obj(
    *,
    txn_id: str,
    amount: int,
    fee: int,
    fee_details: list[Obj],
    available_on: int,
    created: int,
    description: str | None,
    exchange_rate: float | None,
    reporting_category: str,
    source: str,
    type_: str,
    end_ts: int,
) -> Obj:
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "created": created,
        "currency": "usd",
        "description": description,
        "exchange_rate": exchange_rate,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": "available" if available_on < end_ts else "pending",
        "type": type_,
    }


def refund_obj(
    *,
    refund_id: str,
    amount: int,
    txn_id: str,
    charge_id: str,
    created: int,
    currency: str,
    pi_id: str,
    reason: str | None,
    reference: str,
) -> Obj:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": txn_id,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "destination_details": {
            "card": {
                "reference": reference,
                "reference_status": "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": {},
        "payment_intent": pi_id,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


_EVIDENCE_KEYS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "product_description",
    "receipt",
    "refund_policy",
    "service_date",
    "shipping_documentation",
    "uncategorized_text",
)


def dispute_obj(
    *,
    dispute_id: str,
    amount: int,
    txns: list[Obj],
    charge_id: str,
    created: int,
    currency: str,
    due_by: int,
    has_evidence: bool,
    past_due: bool,
    brand: str,
    reason: str,
    pi_id: str,
    status: str,
) -> Obj:
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": txns,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "evidence": dict.fromkeys(_EVIDENCE_KEYS),
        "evidence_details": {
            "due_by": due_by,
            "has_evidence": has_evidence,
            "past_due": past_due,
            "submission_count": 1 if has_evidence else 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": pi_id,
        "payment_method_details": {
            "card": {"brand": brand, "case_type": "chargeback", "network_reason_code": "10.4"},
            "type": "card",
        },
        "reason": reason,
        "status": status,
    }


def invoice_obj(
    *,
    invoice_id: str,
    line_id: str,
    c: Customer,
    amount: int,
    currency: str,
    created: int,
    paid_at: int,
    charge_id: str,
    pi_id: str,
    number: str,
    metadata: dict[str, str],
    attempt_count: int,
    hosted_token: str,
) -> Obj:
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": ACCOUNT_NAME,
        "account_tax_ids": None,
        "amount_due": amount,
        "amount_paid": amount,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "application_fee_amount": None,
        "attempt_count": attempt_count,
        "attempted": True,
        "auto_advance": False,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "status": None,
        },
        "billing_reason": "manual",
        "charge": charge_id,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "custom_fields": None,
        "customer": c.id,
        "customer_address": address(c),
        "customer_email": c.email,
        "customer_name": c.name,
        "customer_phone": c.phone,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discount": None,
        "discounts": [],
        "due_date": None,
        "effective_at": created,
        "ending_balance": 0,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_demo/test_{hosted_token}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/acct_demo/test_{hosted_token}/pdf",
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": line_id,
                    "object": "line_item",
                    "amount": amount,
                    "amount_excluding_tax": amount,
                    "currency": currency,
                    "description": "Analytics platform subscription",
                    "discount_amounts": [],
                    "discountable": True,
                    "discounts": [],
                    "invoice": invoice_id,
                    "livemode": False,
                    "metadata": {},
                    "period": {"end": created, "start": created},
                    "proration": False,
                    "quantity": 1,
                    "type": "invoiceitem",
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": metadata,
        "next_payment_attempt": None,
        "number": number,
        "on_behalf_of": None,
        "paid": True,
        "paid_out_of_band": False,
        "payment_intent": pi_id,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": created,
        "period_start": created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "quote": None,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "paid",
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": None,
            "paid_at": paid_at,
            "voided_at": None,
        },
        "subscription": None,
        "subscription_details": {"metadata": None},
        "subtotal": amount,
        "subtotal_excluding_tax": amount,
        "tax": None,
        "test_clock": None,
        "total": amount,
        "total_discount_amounts": [],
        "total_excluding_tax": amount,
        "total_tax_amounts": [],
        "transfer_data": None,
        "webhooks_delivered_at": created,
    }


def payout_obj(
    *,
    payout_id: str,
    amount: int,
    arrival_date: int,
    txn_id: str,
    created: int,
    destination: str,
    status: str,
    failure_txn_id: str | None,
    failure_code: str | None,
) -> Obj:
    return {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": arrival_date,
        "automatic": True,
        "balance_transaction": txn_id,
        "created": created,
        "currency": "usd",
        "description": "STRIPE PAYOUT",
        "destination": destination,
        "failure_balance_transaction": failure_txn_id,
        "failure_code": failure_code,
        "failure_message": (
            "The bank account has been closed." if failure_code == "account_closed" else None
        ),
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "in_progress" if status == "in_transit" else "completed",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "type": "bank_account",
    }


def event_line(
    *,
    event_id: str,
    created: int,
    type_: str,
    obj: bytes,
    previous: Obj | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
) -> bytes:
    """One events.jsonl line; `obj` is the already-serialized snapshot (reused bytes)."""
    head = orjson.dumps(
        {"id": event_id, "object": "event", "api_version": API_VERSION, "created": created}
    )[:-1]
    data = b'{"object":' + obj
    if previous is not None:
        data += b',"previous_attributes":' + orjson.dumps(previous)
    data += b"}"
    request = orjson.dumps({"id": request_id, "idempotency_key": idempotency_key})
    return (
        head
        + b',"data":'
        + data
        + b',"livemode":false,"pending_webhooks":0,"request":'
        + request
        + b',"type":'
        + orjson.dumps(type_)
        + b"}\n"
    )
