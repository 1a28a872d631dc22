"""The sales: for each sale slot, its customer, amount and documents, its charge(s) in
Stripe (through `charges`), then its books in the ERP (through `erp_books.SaleBooks`); the
instalments and twin invoices the mess knobs leave for later; how many sales a day.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from demoworld.charges import GRANULE, Charges, price, split
from demoworld.context import Anomaly, ChargeRec, Sale, WorldContext, day_of, epoch
from demoworld.customers import Customers
from demoworld.erp_books import ErpBooks, SaleBooks
from demoworld.mess_stories import SalePlan
from demoworld.stripe_objects import Customer


def day_counts(ctx: WorldContext) -> list[int]:
    """How many sales each day: weekends three quarters of a weekday, `scale` in all."""
    weights = [
        0.75 if (ctx.start + dt.timedelta(d)).weekday() >= 5 else 1.0
        for d in range(ctx.ndays)
    ]
    total = sum(weights)
    raw = [ctx.spec.scale * w / total for w in weights]
    counts = [math.floor(x) for x in raw]
    order = sorted(range(ctx.ndays), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: ctx.spec.scale - sum(counts)]:
        counts[i] += 1
    return counts


class Sales:
    """Writes one sale at a time, and its later instalments."""

    def __init__(
        self,
        ctx: WorldContext,
        customers: Customers,
        charges: Charges,
        books: ErpBooks,
        sale_books: SaleBooks,
    ) -> None:
        self.ctx = ctx
        self.customers = customers
        self.charges = charges
        self.books = books
        self.sale_books = sale_books

    def sale(
        self,
        ts: int,
        day_ts: int,
        next_ts: int,
        slot: int,
        kind: str,
        plan: SalePlan | None = None,
    ) -> None:
        """One sale: its charge(s) in Stripe, its invoice(s) and receipt(s) in the ERP, the truth.

        `plan` (from the mess knobs, demoworld/mess_stories.py) reshapes a normal sale; without one
        the main random stream is drawn in exactly the order it always was."""
        s = self._shape(ts, day_ts, slot, kind, plan)
        self._stripe_side(s, day_ts, next_ts)
        c, cur, amount, first = s.c, s.c.currency, s.amount, s.recs[0]
        if kind == "missing_in_erp":
            self.ctx.anomaly(
                Anomaly(
                    first.id,
                    "stripe",
                    kind,
                    cur,
                    amount,
                    self.ctx.period(ts),
                    "charge never recorded in the ERP",
                )
            )
            return  # not a wrong-reference candidate: it must leave no trace in the ERP
        doc_date = self.sale_books.book(s)
        self.ctx.mess.note_charge(first.id, c.id)
        if plan is not None:
            self._after_planned_sale(
                plan, c, amount, s.amounts, first, s.docs, s.description, s.metadata, doc_date
            )

    def _shape(
        self, ts: int, day_ts: int, slot: int, kind: str, plan: SalePlan | None
    ) -> Sale:
        """Who buys, how much, how the charge will name its invoice(s), the invoice numbers."""
        rng = self.ctx.rng
        style = plan.style if plan is not None else "normal"
        ambiguous = plan is not None and plan.ambiguous
        if plan is not None and plan.customer is not None:
            c = plan.customer
        else:
            cur_req = (
                "usd" if kind == "fee_variance" else ("nonusd" if kind == "fx_variance" else None)
            )
            c = self.customers.pick(ts, day_ts, slot, cur_req)
        cur = c.currency
        amount = plan.amount if plan is not None and plan.amount is not None else price(rng, cur)
        granule = GRANULE.get(cur, 1)
        if style == "subscription":
            self.ctx.mess.subscribe(c, amount, ts)
        day = day_of(ts)
        forced = kind not in ("normal", "consolidated", "partial", "missing_in_stripe")
        if kind == "missing_in_erp":
            link = "none"
        elif forced:
            link = "metadata"
        else:
            link = rng.choices(
                ("metadata", "description", "stripe_invoice", "none"), (50, 20, 15, 15)
            )[0]
        if ambiguous:
            link = "none"  # nothing on either side tells the twins apart
        split_sale = style in ("multi_invoice", "instalments")
        if (
            kind in ("consolidated", "partial", "duplicate_charge") or split_sale
        ) and link == "stripe_invoice":
            link = "metadata"
        # ERP documents
        doc_amounts: list[tuple[str, int]] = []
        if kind == "consolidated":
            a = split(rng, amount, cur)
            doc_amounts = [(self.books.next_inv(), a), (self.books.next_inv(), amount - a)]
        elif style == "multi_invoice" and plan is not None:
            parts = self.ctx.mess.split("multi_invoice", amount, plan.n_docs, granule)
            doc_amounts = [(self.books.next_inv(), part) for part in parts]
        elif kind != "missing_in_erp":
            doc_amounts = [(self.books.next_inv(), amount)]
        docs = tuple(d for d, _ in doc_amounts)
        return Sale(
            ts=ts,
            day=day,
            kind=kind,
            plan=plan,
            style=style,
            ambiguous=ambiguous,
            split_sale=split_sale,
            c=c,
            amount=amount,
            granule=granule,
            link=link,
            doc_amounts=doc_amounts,
            docs=docs,
        )

    def _stripe_side(self, s: Sale, day_ts: int, next_ts: int) -> None:
        """The sale's charge(s) in Stripe (and a duplicate charge's second one)."""
        rng = self.ctx.rng
        ts, kind, plan, style, c, amount = s.ts, s.kind, s.plan, s.style, s.c, s.amount
        cur, link, granule, docs = c.currency, s.link, s.granule, s.docs
        ambiguous, split_sale = s.ambiguous, s.split_sale
        # Stripe side: how the charge names its invoice
        metadata: dict[str, str] = {}
        description: str | None = None
        stripe_inv_meta: dict[str, str] | None = None
        if link == "metadata":
            metadata = {"invoice_number": ",".join(docs)}
        elif link == "description":
            description = f"Payment for {' and '.join(docs)}"
        elif link == "stripe_invoice":
            stripe_inv_meta = {"erp_document_number": docs[0]}
        elif kind != "missing_in_erp" and rng.random() < 0.3:
            metadata = {"order_id": f"ORD-{rng.randint(100000, 999999)}"}
        if (
            stripe_inv_meta is None
            and kind not in ("consolidated", "partial", "duplicate_charge")
            and not split_sale
            and rng.random() < 0.176
        ):
            stripe_inv_meta = {}
        if description is None and stripe_inv_meta is not None:
            description = "Payment for Invoice"
        metadata, description, stripe_inv_meta, ref_notes = self.ctx.mess.stripe_refs(
            metadata, description, stripe_inv_meta
        )
        # an interchangeable twin gets no refund: its credit memo's memo would name its invoice
        allow_future = kind in ("normal", "missing_in_stripe") and not split_sale and not ambiguous
        amounts = [amount]
        if kind == "partial":
            a1 = split(rng, amount, cur)
            amounts = [a1, amount - a1]
        elif style == "instalments" and plan is not None:
            amounts = self.ctx.mess.split(
                "instalments", amount, len(plan.instalment_offsets) + 1, granule
            )
        recs: list[ChargeRec] = []
        for i, amt in enumerate(amounts[: 1 if style == "instalments" else None]):
            t = ts if i == 0 else min(ts + rng.randint(600, 7200), next_ts - 1)
            recs.append(
                self.charges.charge(
                    c=c,
                    amount=amt,
                    ts=t,
                    day_ts=day_ts,
                    docs=docs,
                    description=description,
                    metadata=metadata,
                    stripe_invoice_meta=stripe_inv_meta,
                    allow_future=allow_future,
                )
            )
        for knob, note in ref_notes:
            self.ctx.mess.story(knob, recs[0].id, docs[0] if docs else "", note)
        if kind == "duplicate_charge":
            t = min(ts + rng.randint(60, 900), next_ts - 1)
            dup = self.charges.charge(
                c=c,
                amount=amount,
                ts=t,
                day_ts=day_ts,
                docs=(),
                description=description,
                metadata=metadata,
                stripe_invoice_meta=None,
                allow_future=False,
            )
            self.ctx.anomaly(
                Anomaly(
                    dup.id,
                    "stripe",
                    kind,
                    cur,
                    amount,
                    self.ctx.period(t),
                    f"second charge for {docs[0]} {t - ts} s after {recs[0].id}",
                    related=(recs[0].id, docs[0]),
                )
            )
        s.description, s.metadata, s.amounts, s.recs = description, metadata, amounts, recs

    def _after_planned_sale(
        self,
        plan: SalePlan,
        c: Customer,
        amount: int,
        amounts: list[int],
        first: ChargeRec,
        docs: tuple[str, ...],
        description: str | None,
        metadata: dict[str, str],
        doc_date: dt.date,
    ) -> None:
        """What a planned sale leaves for later (the next instalments, the twin invoice) and
        its story in truth/mess.csv."""
        if plan.style == "instalments":
            for offset, part in zip(plan.instalment_offsets, amounts[1:], strict=False):
                self.ctx.schedule(
                    first.created + offset,
                    "instalment",
                    {"c": c, "amount": part, "doc": docs[0], "description": description,
                     "metadata": metadata},
                )
            self.ctx.mess.story(
                "instalments", first.id, docs[0], f"instalment 1 of {len(amounts)}: {first.amount}"
            )
        elif plan.style == "twin" and plan.twin_ts is not None:
            self.ctx.schedule(
                plan.twin_ts,
                "twin",
                {
                    "plan": SalePlan(
                        "twin_second",
                        customer=c,
                        amount=amount,
                        ambiguous=plan.ambiguous,
                        doc_date=doc_date if plan.ambiguous else None,
                        pay_day=plan.pay_day,
                        partner=(first.id, docs[0]),
                    )
                },
            )
        elif plan.style == "twin_second" and plan.partner is not None:
            pairs = [plan.partner, (first.id, docs[0])]
            if plan.ambiguous:
                self.ctx.extra.group(pairs)
            self.ctx.mess.story(
                "twin_invoices",
                first.id,
                docs[0],
                f"second invoice of {amount} {c.currency} for {c.id} after {plan.partner[1]} "
                f"({plan.partner[0]}); " + ("interchangeable" if plan.ambiguous else "told apart"),
            )
        elif plan.style == "renewal":
            self.ctx.mess.story(
                "subscriptions", first.id, docs[0], f"renewal {plan.n_docs} of {amount} for {c.id}"
            )
        elif plan.style == "subscription":
            self.ctx.mess.story("subscriptions", first.id, docs[0], f"subscription of {amount} starts")

    def instalment(self, ts: int, p: dict[str, Any]) -> None:
        """A later instalment of an invoice: its own charge and its own receipt."""
        c: Customer = p["c"]
        day = day_of(ts)
        rec = self.charges.charge(
            c=c,
            amount=p["amount"],
            ts=ts,
            day_ts=epoch(day),
            docs=(p["doc"],),
            description=p["description"],
            metadata=p["metadata"],
            stripe_invoice_meta=None,
            allow_future=False,
        )
        r = self.ctx.mess.rng("instalments").random()
        memo = rec.id if r < 0.35 else (p["doc"] if r < 0.65 else "")
        pn = self.books.payment(p["doc"], day, c.currency, rec.amount, memo, rec.id, c.id)
        self.ctx.match("charge_payment", rec.id, p["doc"], pn)
        self.ctx.mess.story("instalments", rec.id, p["doc"], f"later instalment: {rec.amount}")
        self.ctx.mess.note_charge(rec.id, c.id)
