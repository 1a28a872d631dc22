"""Stripe charges: a succeeded charge with its payment intent, balance transaction and maybe
its Stripe invoice; failed charges; and the prices and exchange rates they are made of.

A charge is written once, final: its refund or dispute is decided when it is created and
scheduled (`WorldContext.schedule`) for `reversals` to write on its day.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_EVEN, Decimal
from random import Random
from typing import Any

from demoworld.context import DAY, ChargeRec, Pending, WorldContext, day_of, dumps, epoch
from demoworld.csv_sinks import EXPONENTS
from demoworld.stripe_objects import (
    Customer,
    balance_txn_obj,
    charge_obj,
    fee_detail,
    invoice_obj,
    payment_intent_obj,
)

BASE_RATES: dict[str, float] = {"eur": 1.08, "gbp": 1.27, "cad": 0.73, "jpy": 0.0067, "kwd": 3.25}
GRANULE: dict[str, int] = {"kwd": 10}  # Stripe wants KWD amounts in multiples of 10 fils
_FAILURE_CODES = ("card_declined", "insufficient_funds", "expired_card", "incorrect_cvc")
_DISPUTE_REASONS = (
    "fraudulent",
    "product_not_received",
    "duplicate",
    "subscription_canceled",
    "general",
)


def price(rng: Random, currency: str) -> int:
    major = min(max(rng.lognormvariate(math.log(60.0), 0.8), 5.0), 4000.0)
    if currency == "jpy":
        return max(500, round(major * 150 / 100) * 100)
    if currency == "kwd":
        return max(1000, round(major * 0.3 * 100) * 10)
    cents = round(major) * 100 if rng.random() < 0.5 else round(major * 100)
    return max(500, cents)


def split(rng: Random, amount: int, currency: str) -> int:
    g = GRANULE.get(currency, 1)
    part = round(amount * rng.uniform(0.3, 0.7) / g) * g
    return min(max(part, g), amount - g)


class Charges:
    """Writes charges; holds the day's exchange rates."""

    def __init__(self, ctx: WorldContext) -> None:
        self.ctx = ctx
        self.rates: dict[str, float] = dict(BASE_RATES)
        self.rate_dec: dict[str, Decimal] = {}

    def walk_rates(self) -> None:
        for cur in list(self.rates):
            r = self.rates[cur] * math.exp(self.ctx.rng.gauss(0.0, 0.004))
            self.rates[cur] = float(f"{r:.6g}")
            self.rate_dec[cur] = Decimal(repr(self.rates[cur]))

    def to_usd(self, amount: int, currency: str) -> int:
        if currency == "usd":
            return amount
        scaled = (
            Decimal(amount) * self.rate_dec[currency] * (Decimal(10) ** (2 - EXPONENTS[currency]))
        )
        return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))

    def failed(
        self, c: Customer, amount: int, currency: str, ts: int, pi_id: str, standalone: bool
    ) -> str:
        rng = self.ctx.rng
        ch_id = self.ctx.ids.make("ch_")
        code = rng.choice(_FAILURE_CODES)
        ch = charge_obj(
            charge_id=ch_id,
            c=c,
            amount=amount,
            currency=currency,
            created=ts,
            pi_id=pi_id,
            txn_id=None,
            failure_code=code,
            invoice_id=None,
            description=None,
            metadata={},
            amount_refunded=0,
            dispute_id=None,
            receipt_number=None,
            receipt_url=None,
            risk_score=rng.randint(5, 70),
            authorization_code=None,
        )
        data = self.ctx.write_obj("charges", ch)
        self.ctx.event(ts, "charge.failed", data)
        self.ctx.extra.scope("failed_charge", ch_id)
        if standalone:
            pi = payment_intent_obj(
                pi_id=pi_id,
                c=c,
                amount=amount,
                currency=currency,
                created=ts - 2,
                latest_charge=ch_id,
                succeeded=False,
                failure_code=code,
                invoice_id=None,
                description=None,
                metadata={},
                client_secret=f"{pi_id}_secret_{self.ctx.ids.make('', 25)}",
            )
            pi_data = self.ctx.write_obj("payment_intents", pi)
            self.ctx.event(ts, "payment_intent.payment_failed", pi_data)
        self.ctx.counts["charges_failed"] += 1
        return ch_id

    def charge(
        self,
        *,
        c: Customer,
        amount: int,
        ts: int,
        day_ts: int,
        docs: tuple[str, ...],
        description: str | None,
        metadata: dict[str, str],
        stripe_invoice_meta: dict[str, str] | None,
        allow_future: bool,
    ) -> ChargeRec:
        """One succeeded charge with its payment intent, balance txn, maybe invoice/futures."""
        rng = self.ctx.rng
        cur = c.currency
        if rng.random() < 0.015:  # an abandoned failed attempt before the sale
            self.failed(
                c,
                amount,
                cur,
                max(day_ts, c.created + 1, ts - rng.randint(30, 900)),
                self.ctx.ids.make("pi_"),
                standalone=True,
            )
        pi_id = self.ctx.ids.make("pi_")
        retry_ts = max(day_ts, c.created + 1, ts - rng.randint(20, 300))
        retried = rng.random() < 0.015
        ch_id = self.ctx.ids.make("ch_")
        txn_id = self.ctx.ids.make("txn_")
        usd = self.to_usd(amount, cur)
        rate = None if cur == "usd" else self.rates[cur]
        bps = 350 if c.brand == "amex" else 290
        if c.card_country != "US":
            bps += 150
        if cur != "usd":
            bps += 100
        fee = (usd * bps + 5000) // 10000 + 30
        # Futures, decided now so the charge is written once, final.
        refund: dict[str, Any] | None = None
        dispute: dict[str, Any] | None = None
        if allow_future:
            r = rng.random()
            if r < 0.05:
                rts = ts + rng.randint(1, 30) * DAY + rng.randint(-3600, 3600)
                full = rng.random() < 0.7
                ramount = amount if full else split(rng, amount, cur)
                if rts < self.ctx.end_ts:
                    refund = {"ts": rts, "amount": ramount, "id": self.ctx.ids.make("re_")}
            elif r < 0.0563:
                dts = ts + rng.randint(5, 40) * DAY + rng.randint(-3600, 3600)
                if dts < self.ctx.end_ts:
                    dispute = {
                        "ts": dts,
                        "id": self.ctx.ids.make("dp_"),
                        "close_ts": dts + rng.randint(10, 60) * DAY + rng.randint(0, 3600),
                        "won": rng.random() < 0.4,
                        "reason": rng.choice(_DISPUTE_REASONS),
                    }
        invoice_id = self.ctx.ids.make("in_") if stripe_invoice_meta is not None else None
        receipt = f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        common: dict[str, Any] = dict(
            charge_id=ch_id,
            c=c,
            amount=amount,
            currency=cur,
            created=ts,
            pi_id=pi_id,
            txn_id=txn_id,
            failure_code=None,
            invoice_id=invoice_id,
            description=description,
            metadata=metadata,
            receipt_number=receipt,
            receipt_url=f"https://pay.stripe.com/receipts/payment/{self.ctx.ids.make('', 40)}",
            risk_score=rng.randint(5, 60),
            authorization_code=f"{rng.randint(0, 999999):06d}",
        )
        final = charge_obj(
            amount_refunded=refund["amount"] if refund else 0,
            dispute_id=dispute["id"] if dispute else None,
            **common,
        )
        if retried:
            self.failed(c, amount, cur, retry_ts, pi_id, standalone=False)
        final_bytes = self.ctx.write_obj("charges", final)
        snapshot = (
            final_bytes
            if not (refund or dispute)
            else dumps(charge_obj(amount_refunded=0, dispute_id=None, **common))
        )
        pi = payment_intent_obj(
            pi_id=pi_id,
            c=c,
            amount=amount,
            currency=cur,
            created=(retry_ts if retried else ts) - 2,
            latest_charge=ch_id,
            succeeded=True,
            failure_code=None,
            invoice_id=invoice_id,
            description=description,
            metadata=metadata,
            client_secret=f"{pi_id}_secret_{self.ctx.ids.make('', 25)}",
        )
        pi_bytes = self.ctx.write_obj("payment_intents", pi)
        available_on = epoch(day_of(ts) + dt.timedelta(days=2))
        details = [fee_detail(fee, "Stripe processing fees")]
        txn = balance_txn_obj(
            txn_id=txn_id,
            amount=usd,
            fee=fee,
            fee_details=details,
            available_on=available_on,
            created=ts,
            description=description,
            exchange_rate=rate,
            reporting_category="charge",
            source=ch_id,
            type_="charge",
            end_ts=self.ctx.end_ts,
        )
        self.ctx.write_obj("balance_transactions", txn)
        self.ctx.pool.append(Pending(available_on, txn_id, usd, fee, usd - fee, ch_id, docs))
        self.ctx.event(ts, "charge.succeeded", snapshot)
        self.ctx.event(ts, "payment_intent.succeeded", pi_bytes)
        if invoice_id is not None and stripe_invoice_meta is not None:
            c.next_invoice_sequence += 1
            inv = invoice_obj(
                invoice_id=invoice_id,
                line_id=self.ctx.ids.make("il_"),
                c=c,
                amount=amount,
                currency=cur,
                created=ts - rng.randint(60, 3600),
                paid_at=ts,
                charge_id=ch_id,
                pi_id=pi_id,
                number=f"{c.invoice_prefix}-{c.next_invoice_sequence - 1:04d}",
                metadata=stripe_invoice_meta,
                attempt_count=2 if retried else 1,
                hosted_token=self.ctx.ids.make("", 40),
            )
            self.ctx.event(ts, "invoice.paid", self.ctx.write_obj("invoices", inv), api_request=False)
        rec = ChargeRec(ch_id, pi_id, amount, cur, ts, usd, fee, usd - fee, rate, c)
        self.ctx.counts["charges_succeeded"] += 1
        if refund:
            self.ctx.schedule(
                refund["ts"], "refund", {"rec": rec, "final": final_bytes, "docs": docs, **refund}
            )
        if dispute:
            self.ctx.schedule(dispute["ts"], "dispute", {"rec": rec, **dispute})
        return rec

