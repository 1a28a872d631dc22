"""Payment methods whose money moves otherwise than a card's (`WorldSpec.payment_methods`):

- bank debits (ACH `us_bank_account`, SEPA `sepa_debit`): the charge succeeds, its money is held
  until it clears (`settlement_days`), and now and then the bank returns it days later: the
  charge ends `failed`, and a `payment_failure_refund` balance transaction takes the money back.
  The ERP booked the receipt when the debit was taken (or when it cleared). Half the time
  (`REVERSAL_RATE`) the clerk hears of the return and reverses the receipt with a negative one on
  the same invoice, in the month of the return: the truth pairs it with the
  `payment_failure_refund` (`refund_payment`) and nothing is left to reconcile. Else the ERP never
  hears of it: a `debit_failed_after_booking` anomaly.
- bank transfers to a customer balance (`customer_balance`): one transfer pays two or three
  invoices, one charge of their sum, one ERP receipt per invoice.

Each method's fee is its schedule (`PaymentMethodSpec.fee`, the project's seed
seeds/payment_methods.csv). Everything here draws from random streams of its own
("paymethods", ids from "paymethod_ids") and its customers stay out of the card sales' pool, so
the card sales of a world are what they were without these methods: what changes is what shares
the world's counters and balance (the numbers of the ERP documents and receipts written after
theirs, the payouts that carry their money).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from demoworld.charges import Charges, price
from demoworld.context import (
    DAY,
    Anomaly,
    PaymentMethodSpec,
    Pending,
    WorldContext,
    day_of,
    dumps,
    epoch,
)
from demoworld.customers import Customers
from demoworld.erp_books import ErpBooks
from demoworld.mess_stories import sub_rng
from demoworld.stripe_objects import (
    Customer,
    IdMaker,
    Obj,
    balance_txn_obj,
    charge_obj,
    fee_detail,
    payment_intent_obj,
)

# Returned debits: the bank's reason (ACH return code or SEPA reason) as Stripe's failure code.
_RETURN_CODES: tuple[tuple[str, str], ...] = (
    ("insufficient_funds", "The customer's account has insufficient funds to cover this payment."),
    ("account_closed", "The customer's bank account has been closed."),
    ("debit_not_authorized", "The customer has notified their bank that this payment was unauthorized."),
    ("no_account", "The customer's bank account could not be located."),
)


# Returned debits the ERP reverses (a negative receipt on the invoice) before the data ends: the
# clerk hears of some returns (Stripe's e-mail, the customer's call), not of all.
REVERSAL_RATE = 0.5


class PaymentMethods:
    """Writes the sales of the other payment methods, day by day, and their returns."""

    def __init__(
        self, ctx: WorldContext, customers: Customers, books: ErpBooks, charges: Charges
    ) -> None:
        self.ctx = ctx
        self.customers = customers
        self.books = books
        self.charges = charges
        self.rng = sub_rng(ctx.spec.seed, "paymethods")
        self.ids = IdMaker(sub_rng(ctx.spec.seed, "paymethod_ids"))
        # whether and how the ERP reverses a returned debit: a stream of its own, so the methods'
        # sales draw what they drew before reversals were written
        self.reversal_rng = sub_rng(ctx.spec.seed, "debit_reversals")
        self.methods = ctx.spec.payment_methods

    def plan_day(self, day_ts: int, next_ts: int, card_sales: int) -> list[tuple[int, int]]:
        """The day's sales of each method, about `share` of the day's card sales each: (time,
        method index), for the writer to make in time order among the day's other happenings."""
        planned: list[tuple[int, int]] = []
        for index, method in enumerate(self.methods):
            n = int(card_sales * method.share + self.rng.random())
            planned += [(self.rng.randrange(day_ts + 1000, next_ts - 1000), index) for _ in range(n)]
        return sorted(planned)

    def sale(self, ts: int, index: int) -> None:
        """One sale of method `index` at `ts`."""
        method = self.methods[index]
        with self.ctx.streams(self.rng, self.ids):
            if method.shape == "debit":
                self._debit(method, ts, day_of(ts))
            else:
                self._transfer(method, ts, day_of(ts))

    def returned(self, ts: int, p: dict[str, Any]) -> None:
        """A debit returned by the bank: the failure's balance transaction and event."""
        with self.ctx.streams(self.rng, self.ids):
            txn = balance_txn_obj(
                txn_id=p["txn"],
                amount=-p["usd"],
                fee=0,
                fee_details=[],
                available_on=ts,
                created=ts,
                description=f"Payment failure refund for {p['charge']}",
                exchange_rate=p["rate"],
                reporting_category="charge_failure",
                source=p["charge"],
                type_="payment_failure_refund",
                end_ts=self.ctx.end_ts,
            )
            self.ctx.write_obj("balance_transactions", txn)
            # the payout carrying the return settles (negatively) the debit's documents too
            self.ctx.pool.append(Pending(ts, p["txn"], -p["usd"], 0, -p["usd"], p["charge"], p["docs"]))
            self.ctx.event(ts, "charge.failed", p["final"], api_request=False)
        if p["reversal"] is not None:
            self._reverse(ts, p)

    def _reverse(self, ts: int, p: dict[str, Any]) -> None:
        """The ERP's reversal of a returned debit's receipt: a negative receipt on the invoice,
        booked on the day of the return (or of the receipt, when that was later) or up to three
        days after, within that month and the world; its memo names the charge, the invoice, or
        only the bank's reason."""
        rng = self.reversal_rng
        doc, receipt_day, currency, amount, customer_id, code = p["reversal"]
        day = max(day_of(ts), dt.date.fromisoformat(receipt_day))
        later = day + dt.timedelta(days=rng.randint(0, 3))
        if later <= min(self.ctx.month_end(day), self.ctx.end - dt.timedelta(days=1)):
            day = later
        r = rng.random()
        memo = p["charge"] if r < 0.4 else (f"Returned debit {doc}" if r < 0.7 else f"Debit returned: {code}")
        # every draw of the booking (its method's spelling) from the reversals' stream too
        with self.ctx.streams(rng, self.ids):
            pn = self.books.payment(doc, day, currency, -amount, memo, p["charge"], customer_id)
        self.ctx.match("refund_payment", p["txn"], doc, pn)
        self.ctx.counts["erp_debit_reversals"] += 1

    # ------------------------------------------------------------------ the sales
    def _customer(self, method: PaymentMethodSpec, ts: int, day_ts: int) -> Customer:
        """A customer of the method: one of its earlier ones half the time, else a new one."""
        earlier = [c for c in self.customers.own if c.currency == method.currency]
        if earlier and self.rng.random() < 0.5:
            return self.rng.choice(earlier)
        return self.customers.new(ts, day_ts, method.currency, own=True)

    def _debit(self, method: PaymentMethodSpec, ts: int, day: dt.date) -> None:
        rng = self.ctx.rng
        c = self._customer(method, ts, epoch(day))
        amount = price(rng, c.currency)
        doc = self.books.next_inv()
        ch_id = self.ctx.ids.make("ch_")
        failure: tuple[int, str, str] | None = None
        if rng.random() < method.failure_rate:
            fail_ts = ts + rng.randint(2, max(2, method.settlement_days)) * DAY + rng.randint(-3600, 3600)
            code, message = rng.choice(_RETURN_CODES)
            if fail_ts < self.ctx.end_ts:
                failure = (fail_ts, code, message)
        returned = self._charge(method, c, ch_id, amount, ts, day, (doc,), failure)
        ext_ref = ch_id if rng.random() < 0.4 else ""
        self.books.invoice(doc, c, day - dt.timedelta(days=rng.randint(0, 10)), c.currency, amount, "paid", ext_ref)
        pay_day = self._booking_day(method, day)
        r = rng.random()
        memo = ch_id if r < 0.35 else (doc if r < 0.65 else "")
        pn = self.books.payment(doc, pay_day, c.currency, amount, memo, ch_id, c.id)
        self.ctx.match("charge_payment", ch_id, doc, pn)
        if returned is not None and self.reversal_rng.random() < REVERSAL_RATE:
            # the ERP reverses the receipt when the bank returns the debit (`_reverse`): nothing
            # is left to reconcile, no anomaly
            returned["reversal"] = (doc, pay_day.isoformat(), c.currency, amount, c.id, returned["code"])
        elif failure is not None:
            fail_day = day_of(failure[0]).isoformat()
            self.ctx.anomaly(
                Anomaly(
                    ch_id,
                    "stripe",
                    "debit_failed_after_booking",
                    c.currency,
                    amount,
                    self.ctx.period(ts),
                    f"{method.name} debit returned by the bank on {fail_day} ({failure[1]}) "
                    f"after the ERP booked {pn}",
                    related=(doc, pn),
                    rng=self.rng,
                )
            )

    def _transfer(self, method: PaymentMethodSpec, ts: int, day: dt.date) -> None:
        rng = self.ctx.rng
        c = self._customer(method, ts, epoch(day))
        amounts = [price(rng, c.currency) for _ in range(rng.randint(2, 3))]
        docs = tuple(self.books.next_inv() for _ in amounts)
        ch_id = self.ctx.ids.make("ch_")
        self._charge(method, c, ch_id, sum(amounts), ts, day, docs, None)
        reference = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=10))
        doc_date = day - dt.timedelta(days=rng.randint(3, 20))
        for doc, amount in zip(docs, amounts, strict=True):
            self.books.invoice(doc, c, doc_date, c.currency, amount, "paid", "")
        pay_day = self._booking_day(method, day)
        for doc, amount in zip(docs, amounts, strict=True):
            memo = f"BANK TRANSFER {reference}" if rng.random() < 0.6 else doc
            pn = self.books.payment(doc, pay_day, c.currency, amount, memo, ch_id, c.id)
            self.ctx.match("charge_payment", ch_id, doc, pn)

    def _booking_day(self, method: PaymentMethodSpec, day: dt.date) -> dt.date:
        """The ERP books a receipt when the money is taken, or (two in five) when it is final,
        within the month and the world."""
        if method.settlement_days and self.ctx.rng.random() < 0.4:
            final = day + dt.timedelta(days=method.settlement_days)
            if final <= min(self.ctx.month_end(day), self.ctx.end - dt.timedelta(days=1)):
                return final
        return day

    def _charge(
        self,
        method: PaymentMethodSpec,
        c: Customer,
        ch_id: str,
        amount: int,
        ts: int,
        day: dt.date,
        docs: tuple[str, ...],
        failure: tuple[int, str, str] | None,
    ) -> dict[str, Any] | None:
        """The charge, its payment intent and balance transaction, and a return scheduled: its
        payload, for the sale to add what the ERP does about it (None without a return)."""
        rng = self.ctx.rng
        pi_id, txn_id = self.ctx.ids.make("pi_"), self.ctx.ids.make("txn_")
        usd = self.charges.to_usd(amount, c.currency)
        rate = None if c.currency == "usd" else self.charges.rates[c.currency]
        fee = method.fee(usd)
        # a bank transfer names the invoices it pays less often than a debit set up for one
        named = rng.random() < (0.6 if method.shape == "debit" else 0.3)
        metadata = {"invoice_number": ",".join(docs)} if named else {}
        description = f"Payment for {' and '.join(docs)}" if not named and rng.random() < 0.5 else None
        if method.shape == "transfer" and not named:
            description = None
        common: dict[str, Any] = dict(
            charge_id=ch_id,
            c=c,
            amount=amount,
            currency=c.currency,
            created=ts,
            pi_id=pi_id,
            txn_id=txn_id,
            failure_code=None,
            invoice_id=None,
            description=description,
            metadata=metadata,
            amount_refunded=0,
            dispute_id=None,
            receipt_number=f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            receipt_url=f"https://pay.stripe.com/receipts/payment/{self.ctx.ids.make('', 40)}",
            risk_score=rng.randint(5, 60),
            authorization_code=None,
        )
        succeeded = _with_method(charge_obj(**common), method, c, amount)
        final = succeeded
        failure_txn = self.ctx.ids.make("txn_") if failure is not None else None
        if failure is not None:
            final = dict(succeeded)
            final.update(
                failure_balance_transaction=failure_txn,
                failure_code=failure[1],
                failure_message=failure[2],
                paid=False,
                status="failed",
            )
        final_bytes = self.ctx.write_obj("charges", final)
        pi = payment_intent_obj(
            pi_id=pi_id,
            c=c,
            amount=amount,
            currency=c.currency,
            created=ts - 2,
            latest_charge=ch_id,
            succeeded=True,
            failure_code=None,
            invoice_id=None,
            description=description,
            metadata=metadata,
            client_secret=f"{pi_id}_secret_{self.ctx.ids.make('', 25)}",
        )
        pi.update(payment_method_options={method.name: {}}, payment_method_types=[method.name])
        pi_bytes = self.ctx.write_obj("payment_intents", pi)
        # the money waits until it is final, then Stripe's usual two days
        available_on = epoch(day + dt.timedelta(days=method.settlement_days + 2))
        txn = balance_txn_obj(
            txn_id=txn_id,
            amount=usd,
            fee=fee,
            fee_details=[fee_detail(fee, "Stripe processing fees")],
            available_on=available_on,
            created=ts,
            description=description,
            exchange_rate=rate,
            reporting_category="charge",
            source=ch_id,
            type_="payment",
            end_ts=self.ctx.end_ts,
        )
        self.ctx.write_obj("balance_transactions", txn)
        self.ctx.pool.append(Pending(available_on, txn_id, usd, fee, usd - fee, ch_id, docs))
        self.ctx.event(ts, "charge.succeeded", dumps(succeeded))
        self.ctx.event(ts, "payment_intent.succeeded", pi_bytes)
        # counted where they end: a returned debit among charges_returned (when it fails)
        self.ctx.counts["charges_succeeded" if failure is None else "charges_returned"] += 1
        self.ctx.counts[f"charges_{method.name}"] += 1
        if failure is None:
            return None
        payload: dict[str, Any] = {
            "charge": ch_id, "txn": failure_txn, "usd": usd, "rate": rate, "final": final_bytes,
            "docs": docs, "code": failure[1], "reversal": None,
        }
        self.ctx.schedule(failure[0], "debit_returned", payload)
        return payload


def _with_method(charge: Obj, method: PaymentMethodSpec, c: Customer, amount: int) -> Obj:
    """A charge object paid by `method` instead of a card."""
    details: Obj
    if method.name == "us_bank_account":
        details = {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "STRIPE TEST BANK",
            "fingerprint": c.fingerprint,
            "last4": c.last4,
            "mandate": None,
            "payment_reference": None,
            "routing_number": "110000000",
        }
    elif method.name == "sepa_debit":
        details = {
            "bank_code": "37040044",
            "branch_code": "",
            "country": c.country,
            "fingerprint": c.fingerprint,
            "last4": c.last4,
            "mandate": f"mandate_{c.fingerprint}",
        }
    else:
        details = {}
    out = dict(charge)
    out.update(
        outcome={
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "not_assessed",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        payment_method_details={method.name: details, "type": method.name},
    )
    out["amount_captured"] = amount
    return out
