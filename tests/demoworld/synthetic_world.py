"""A synthetic Stripe account for the tests of the local Stripe-compatible API.

A module of its own (not conftest.py), so that tests import it by a name no other folder uses.
`write_synthetic_world` writes a small, well-formed Stripe account in the WORLD_FORMAT.md
layout (only the `stripe/` folder and a manifest): customers, payment intents, charges
(some failed), refunds, disputes, invoices, balance transactions with `amount - fee = net`,
daily automatic payouts per currency whose amount is the sum of the `net` they settled,
the payout composition CSV and events. Creation times repeat on purpose (three charges a
second) so that the id tiebreak of Stripe's list order is exercised. It stands in for
the real generator (demoworld/world.py) until that exists.
"""

from __future__ import annotations

import csv
import json
import random
import string
from collections import defaultdict
from pathlib import Path
from typing import Any

START = 1_735_689_600  # 2025-01-01T00:00:00Z
DAY = 86_400
API_VERSION = "2025-02-24.acacia"
_ALPHABET = string.ascii_letters + string.digits


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def __call__(self, prefix: str) -> str:
        while True:
            candidate = prefix + "".join(self.rng.choices(_ALPHABET, k=24))
            if candidate not in self.seen:
                self.seen.add(candidate)
                return candidate


def _txn(
    ids: _Ids,
    *,
    amount: int,
    fee: int,
    currency: str,
    created: int,
    kind: str,
    source: str,
    category: str,
) -> dict[str, Any]:
    available_on = created + 2 * DAY
    return {
        "id": ids("txn_"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "created": created,
        "currency": currency,
        "description": None,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": (
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        ),
        "net": amount - fee,
        "reporting_category": category,
        "source": source,
        "status": "available",
        "type": kind,
    }


def _event(ids: _Ids, kind: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ids("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


RESOURCE_FILES = (
    "customers",
    "payment_intents",
    "charges",
    "refunds",
    "disputes",
    "invoices",
    "balance_transactions",
    "payouts",
    "events",
)


class _Sink:
    """Streams objects to the jsonl files as they are made (a big world never sits in memory)."""

    def __init__(self, stripe_dir: Path) -> None:
        stripe_dir.mkdir(parents=True, exist_ok=True)
        self.files = {
            r: (stripe_dir / f"{r}.jsonl").open("w", encoding="utf-8") for r in RESOURCE_FILES
        }
        self.counts = dict.fromkeys(RESOURCE_FILES, 0)

    def add(self, resource: str, obj: dict[str, Any]) -> None:
        self.files[resource].write(json.dumps(obj, separators=(",", ":")) + "\n")
        self.counts[resource] += 1

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def write_synthetic_world(root: Path, n_charges: int = 1500, seed: int = 7) -> Path:
    """Write a synthetic world with `n_charges` charges (about five objects a charge) to root."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    stripe_dir = root / "stripe"
    out = _Sink(stripe_dir)
    composition_file = (stripe_dir / "payout_balance_transactions.csv").open(
        "w", encoding="utf-8", newline=""
    )
    composition = csv.writer(composition_file, lineterminator="\n")
    composition.writerow(["payout_id", "balance_transaction_id"])

    customers = []
    for i in range(max(1, n_charges // 5)):
        cus = {
            "id": ids("cus_"),
            "object": "customer",
            "balance": 0,
            "created": START - DAY + i,
            "currency": "usd",
            "email": f"customer{i}@example.com",
            "livemode": False,
            "metadata": {"erp_customer_number": f"C{10000 + i}"},
            "name": f"Customer {i}",
        }
        customers.append(cus)
        out.add("customers", cus)

    # currency -> (txn id, net, available_on) of what no payout settled yet
    pending: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for i in range(n_charges):
        created = START + (i // 3) * 1800  # three charges share each second; ~10 days
        currency = "eur" if i % 7 == 0 else "usd"
        amount = rng.randrange(500, 250_000)
        cus = rng.choice(customers)
        succeeded = rng.random() > 0.04
        pi_id, ch_id = ids("pi_"), ids("ch_")
        invoice_id = ids("in_") if rng.random() < 0.6 else None
        txn = None
        if succeeded:
            fee = round(amount * 0.029) + 30
            txn = _txn(
                ids,
                amount=amount,
                fee=fee,
                currency=currency,
                created=created,
                kind="charge",
                source=ch_id,
                category="charge",
            )
            out.add("balance_transactions", txn)
            pending[currency].append((txn["id"], txn["net"], txn["available_on"]))
        charge: dict[str, Any] = {
            "id": ch_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if succeeded else 0,
            "amount_refunded": 0,
            "balance_transaction": txn["id"] if txn else None,
            "billing_details": {
                "address": {"city": None, "country": "US", "line1": None, "postal_code": "94107"},
                "email": cus["email"],
                "name": cus["name"],
                "phone": None,
            },
            "captured": succeeded,
            "created": created,
            "currency": currency,
            "customer": cus["id"],
            "description": f"Invoice {invoice_id}" if invoice_id else None,
            "disputed": False,
            "failure_code": None if succeeded else "card_declined",
            "failure_message": None if succeeded else "Your card was declined.",
            "invoice": invoice_id,
            "livemode": False,
            "metadata": {},
            "outcome": {
                "network_status": "approved_by_network" if succeeded else "declined_by_network",
                "risk_level": "normal",
                "seller_message": "Payment complete."
                if succeeded
                else "The bank did not return any further details.",
                "type": "authorized" if succeeded else "issuer_declined",
            },
            "paid": succeeded,
            "payment_intent": pi_id,
            "payment_method": ids("pm_"),
            "payment_method_details": {
                "card": {
                    "brand": "visa",
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "funding": "credit",
                    "last4": f"{rng.randrange(10_000):04d}",
                },
                "type": "card",
            },
            "receipt_url": f"https://pay.stripe.com/receipts/{ch_id}",
            "refunded": False,
            "status": "succeeded" if succeeded else "failed",
        }
        out.add(
            "payment_intents",
            {
                "id": pi_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount if succeeded else 0,
                "created": created,
                "currency": currency,
                "customer": cus["id"],
                "invoice": invoice_id,
                "latest_charge": ch_id,
                "livemode": False,
                "metadata": {},
                "status": "succeeded" if succeeded else "requires_payment_method",
            },
        )
        if invoice_id:
            out.add(
                "invoices",
                {
                    "id": invoice_id,
                    "object": "invoice",
                    "amount_due": amount,
                    "amount_paid": amount if succeeded else 0,
                    "created": created - 3600,
                    "currency": currency,
                    "customer": cus["id"],
                    "number": f"INV-{100000 + i}",
                    "status": "paid" if succeeded else "open",
                },
            )
        # the event's snapshot is the charge as created, before any refund or dispute
        out.add(
            "events",
            _event(ids, "charge.succeeded" if succeeded else "charge.failed", created, charge),
        )
        if succeeded and rng.random() < 0.05:
            refund_amount = amount if rng.random() < 0.5 else amount // 2
            re_id = ids("re_")
            re_created = created + DAY
            re_txn = _txn(
                ids,
                amount=-refund_amount,
                fee=0,
                currency=currency,
                created=re_created,
                kind="refund",
                source=re_id,
                category="refund",
            )
            out.add("balance_transactions", re_txn)
            pending[currency].append((re_txn["id"], re_txn["net"], re_txn["available_on"]))
            out.add(
                "refunds",
                {
                    "id": re_id,
                    "object": "refund",
                    "amount": refund_amount,
                    "balance_transaction": re_txn["id"],
                    "charge": ch_id,
                    "created": re_created,
                    "currency": currency,
                    "payment_intent": pi_id,
                    "reason": "requested_by_customer",
                    "status": "succeeded",
                },
            )
            charge["amount_refunded"] = refund_amount
            charge["refunded"] = refund_amount == amount
        elif succeeded and rng.random() < 0.01:
            dp_id = ids("dp_")
            dp_created = created + 3 * DAY
            dp_txn = _txn(
                ids,
                amount=-amount,
                fee=1500,
                currency=currency,
                created=dp_created,
                kind="adjustment",
                source=dp_id,
                category="dispute",
            )
            out.add("balance_transactions", dp_txn)
            pending[currency].append((dp_txn["id"], dp_txn["net"], dp_txn["available_on"]))
            out.add(
                "disputes",
                {
                    "id": dp_id,
                    "object": "dispute",
                    "amount": amount,
                    "balance_transactions": [dp_txn],
                    "charge": ch_id,
                    "created": dp_created,
                    "currency": currency,
                    "payment_intent": pi_id,
                    "reason": "fraudulent",
                    "status": "lost",
                },
            )
            charge["disputed"] = True
        out.add("charges", charge)

    # daily automatic payouts per currency of what became available that day
    for currency, txns in sorted(pending.items()):
        by_day: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        for t in txns:
            by_day[t[2] // DAY].append(t)
        carried: list[tuple[str, int, int]] = []
        for day in sorted(by_day):
            settled = carried + by_day[day]
            amount = sum(t[1] for t in settled)
            if amount <= 0:
                carried = settled  # a negative balance waits for the next day
                continue
            carried = []
            po_id = ids("po_")
            created = (day + 1) * DAY + 3600
            po_txn = _txn(
                ids,
                amount=-amount,
                fee=0,
                currency=currency,
                created=created,
                kind="payout",
                source=po_id,
                category="payout",
            )
            out.add("balance_transactions", po_txn)
            payout = {
                "id": po_id,
                "object": "payout",
                "amount": amount,
                "arrival_date": created + 2 * DAY,
                "automatic": True,
                "balance_transaction": po_txn["id"],
                "created": created,
                "currency": currency,
                "description": "STRIPE PAYOUT",
                "failure_balance_transaction": None,
                "method": "standard",
                "status": "paid",
                "type": "bank_account",
            }
            out.add("payouts", payout)
            out.add("events", _event(ids, "payout.paid", created + 2 * DAY, payout))
            composition.writerows((po_id, t[0]) for t in settled)
            composition.writerow((po_id, po_txn["id"]))

    out.close()
    composition_file.close()
    counts = out.counts
    manifest = {
        "format": 1,
        "seed": seed,
        "scale": None,
        "start": "2025-01-01",
        "end": None,
        "api_version": API_VERSION,
        "counts": counts,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return root


def read_world(root: Path, resource: str) -> list[dict[str, Any]]:
    """The objects of one resource, as written."""
    with (root / "stripe" / f"{resource}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
