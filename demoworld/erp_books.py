"""The ERP's books: numbered invoices, credit memos, receipts and journals written as the ERP
exports them (columns: `csv_sinks`); how each sale is booked (`SaleBooks`); the books that
are not Stripe's business (open, void, wire- and check-paid invoices); the chart of accounts.
"""

from __future__ import annotations

import datetime as dt
from random import Random

from demoworld.charges import price
from demoworld.context import Anomaly, ChargeRec, Sale, WorldContext
from demoworld.csv_sinks import ACCOUNT_BY_ROLE, CHART_OF_ACCOUNTS, CsvSink, fmt_major
from demoworld.customers import Customers
from demoworld.stripe_objects import Customer


def _transpose(amount: int, rng: Random) -> int:
    """Swap two adjacent different digits (a keying error); fall back to adding 9 x 10^k."""
    digits = list(str(amount))
    spots = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]
    if spots:
        i = rng.choice(spots)
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
        swapped = int("".join(digits))
        if abs(swapped - amount) > 1:
            return swapped
    bump: int = 9 * pow(10, max(1, len(digits) - 2))
    return amount + bump


class ErpBooks:
    """Numbers and writes the ERP's documents, receipts and journals."""

    def __init__(self, ctx: WorldContext, customers: Customers) -> None:
        self.ctx = ctx
        self.customers = customers
        self.n_inv = 100_000
        self.n_cm = 2_000
        self.n_pmt = 100_000
        self.n_je = 100_000

    def next_inv(self) -> str:
        self.n_inv += 1
        return f"INV-{self.n_inv}"

    def next_pmt(self) -> str:
        self.n_pmt += 1
        return f"PMT-{self.n_pmt}"

    def next_je(self) -> str:
        self.n_je += 1
        return f"JE-{self.n_je}"

    def next_cm(self) -> str:
        self.n_cm += 1
        return f"CM-{self.n_cm}"

    def cur_case(self, currency: str) -> str:
        r = self.ctx.rng.random()
        return currency.upper() if r < 0.8 else (currency if r < 0.95 else currency.capitalize())

    def stripe_method(self) -> str:
        r = self.ctx.rng.random()
        return "stripe" if r < 0.6 else ("Stripe" if r < 0.85 else "STRIPE")

    def invoice(
        self,
        doc: str,
        c: Customer,
        doc_date: dt.date,
        currency: str,
        amount: int,
        status: str,
        ext_ref: str,
        doc_type: str = "invoice",
    ) -> None:
        due = doc_date + dt.timedelta(days=30) if doc_type == "invoice" else doc_date
        row = [
            doc,
            doc_type,
            c.erp_number,
            c.erp_name,
            c.erp_email,
            doc_date.isoformat(),
            due.isoformat(),
            self.cur_case(currency),
            fmt_major(amount, currency),
            status,
            ext_ref,
        ]
        self.ctx.mess.export_row("invoices.csv", row, doc)
        self.ctx.invoices.write(row)

    def payment(
        self,
        doc: str,
        day: dt.date,
        currency: str,
        amount: int,
        memo: str,
        stripe_id: str = "",
        customer_id: str = "",
        *,
        method: str | None = None,
    ) -> str:
        """One ERP receipt (or refund paid); `stripe_id` and `customer_id` say whose it truly
        is, for the stories of a reference the mess knobs write wrong or in another form."""
        pn = self.next_pmt()
        row = [
            pn,
            doc,
            day.isoformat(),
            self.cur_case(currency),
            fmt_major(amount, currency),
            method or self.stripe_method(),
            self.ctx.mess.erp_reference("memo", memo, stripe_id, pn, customer_id),
        ]
        self.ctx.mess.export_row("payments.csv", row, pn)
        self.ctx.payments.write(row)
        return pn

    def journal(
        self, day: dt.date, memo: str, lines: list[tuple[str, int]], document: str = ""
    ) -> str:
        """A balanced USD journal; lines are (role, signed amount: + debit, - credit)."""
        je = self.next_je()
        assert sum(a for _, a in lines) == 0, lines
        for n, (role, amount) in enumerate(lines, start=1):
            num, name = ACCOUNT_BY_ROLE[role]
            debit = fmt_major(amount, "usd") if amount > 0 else "0.00"
            credit = fmt_major(-amount, "usd") if amount < 0 else "0.00"
            row = [je, str(n), day.isoformat(), num, name, debit, credit, "USD", memo, document]
            self.ctx.mess.export_row("gl_entries.csv", row, f"{je}/{n}")
            self.ctx.gl.write(row)
        self.ctx.counts["gl_journals"] += 1
        return je

    def other(self, day: dt.date) -> None:
        """Books that are not Stripe's business: open, void and wire/check-paid invoices."""
        rng = self.ctx.rng
        r = rng.random()
        if not self.customers.all or r >= 0.075:
            return
        c = self.customers.all[rng.randrange(len(self.customers.all))]
        amt = price(rng, c.currency)
        doc = self.next_inv()
        doc_date = day - dt.timedelta(days=rng.randint(0, 5))
        if r < 0.04:
            self.invoice(doc, c, doc_date, c.currency, amt, "open", "")
            self.ctx.extra.scope("open_invoice", doc)
        elif r < 0.043:
            self.invoice(doc, c, doc_date, c.currency, amt, "void", "")
            self.ctx.extra.scope("void_invoice", doc)
        else:
            self.invoice(doc, c, doc_date, c.currency, amt, "paid", "")
            method = rng.choice(("wire", "check", "Wire", "CHECK"))
            memo = (
                f"WIRE REF {rng.randint(100000, 999999)}"
                if method.lower() == "wire"
                else f"CHECK {rng.randint(1000, 9999)}"
            )
            pn = self.payment(doc, day, c.currency, amt, memo, method=method)
            self.ctx.extra.scope("wire_check", doc, pn)

    def write_accounts(self) -> None:
        """erp/gl_accounts.csv: the chart of accounts."""
        with CsvSink(
            self.ctx.out / "erp" / "gl_accounts.csv", ["account_number", "account_name", "role"]
        ) as accounts:
            for row in CHART_OF_ACCOUNTS:
                accounts.write(list(row))


class SaleBooks:
    """How one sale is booked: its invoice(s), its receipt(s), a receipt with no charge."""

    def __init__(self, ctx: WorldContext, customers: Customers, books: ErpBooks) -> None:
        self.ctx = ctx
        self.customers = customers
        self.books = books
        self.prev_charge_id: str | None = None

    def book(self, s: Sale) -> dt.date:
        """Write the sale's books; returns the invoices' date."""
        doc_date = self._invoices(s)
        self._receipts(s)
        if s.kind == "missing_in_stripe":
            self._receipt_without_charge(s)
        self.prev_charge_id = s.recs[0].id
        return doc_date

    def _invoices(self, s: Sale) -> dt.date:
        """The sale's invoice(s); returns their date."""
        rng = self.ctx.rng
        ts, day, plan, style, c, amount = s.ts, s.day, s.plan, s.style, s.c, s.amount
        cur, granule, ambiguous, first = c.currency, s.granule, s.ambiguous, s.recs[0]
        docs, doc_amounts = s.docs, s.doc_amounts
        # ERP invoices
        doc_date = day - dt.timedelta(days=rng.randint(0, 10))
        if plan is not None and plan.doc_date is not None:
            doc_date = plan.doc_date
        delta = (
            self.ctx.mess.invoice_delta(plan, amount, granule)
            if style == "short_over" and plan is not None
            else 0
        )
        for doc, amt in doc_amounts:
            r = rng.random()
            if ambiguous:
                ref = ""
            elif r < 0.40:
                ref = first.id if rng.random() < 0.75 else first.pi_id
            elif r < 0.42 and self.prev_charge_id is not None:
                ref = self.prev_charge_id
                if len(self.ctx.rejected) < 2000 and rng.random() < 0.5:
                    self.ctx.rejected.append((ref, doc, "", "", ts))
            else:
                ref = ""
            ref = self.ctx.mess.erp_reference("external_reference", ref, first.id, doc, c.id)
            status = "open" if delta > 0 else "paid"  # a short payment leaves a balance due
            self.books.invoice(doc, c, doc_date, cur, amt + delta, status, ref)
        if delta:
            self.ctx.mess.story(
                "short_over_payment",
                first.id,
                docs[0],
                f"{'short' if delta > 0 else 'over'} payment: invoice {amount + delta}, "
                f"receipt and charge {amount} {cur}",
            )
        return doc_date

    def _receipts(self, s: Sale) -> None:
        """The sale's receipt(s), with the anomalies a receipt can carry."""
        rng = self.ctx.rng
        ts, day, kind, plan, style, c, amount = s.ts, s.day, s.kind, s.plan, s.style, s.c, s.amount
        cur, ambiguous, link, recs, first = c.currency, s.ambiguous, s.link, s.recs, s.recs[0]
        docs, doc_amounts = s.docs, s.doc_amounts
        # ERP payments
        pay_day = self.ctx.same_month_shift(day, 1, 0.3)
        if kind == "timing_difference":
            pay_day = self.ctx.month_end(day) + dt.timedelta(days=1 + rng.randint(0, 2))
        if plan is not None and plan.pay_day is not None:
            pay_day = plan.pay_day

        def memo_for(rec: ChargeRec, doc: str) -> str:
            if kind in (
                "fee_variance",
                "fx_variance",
                "rounding",
                "amount_mismatch",
                "timing_difference",
            ):
                return rec.id if rng.random() < 0.5 else doc
            r = rng.random()
            memo = rec.id if r < 0.35 else (doc if r < 0.65 else "")
            return "" if ambiguous else memo

        if kind == "partial" or style == "instalments":
            for rec in recs:
                pn = self.books.payment(
                    docs[0], pay_day, cur, rec.amount, memo_for(rec, docs[0]), rec.id, c.id
                )
                self.ctx.match("charge_payment", rec.id, docs[0], pn)
        elif style == "multi_invoice" and plan is not None and plan.one_receipt:
            applied = docs[0] if plan.receipt_on_first_doc else ""
            memo = (
                self.ctx.mess.memo_listing(docs) if plan.memo_lists_docs else memo_for(first, docs[0])
            )
            pn = self.books.payment(applied, pay_day, cur, amount, memo, first.id, c.id)
            for doc in docs:
                self.ctx.match("charge_payment", first.id, doc, pn)
            self.ctx.mess.story(
                "multi_invoice",
                first.id,
                pn,
                f"one receipt of {amount} for {', '.join(docs)}, applied to "
                f"{applied or 'no document'}; memo {memo!r}",
            )
        else:
            for doc, amt in doc_amounts:
                pay_cur, pay_amt, diff, note = cur, amt, None, ""
                if kind == "fee_variance":
                    pay_amt, diff = first.net, -first.fee
                    note = f"ERP booked the net {first.net} instead of the gross {amount}"
                elif kind == "fx_variance":
                    pct = rng.choice((-1, 1)) * rng.uniform(0.004, 0.02)
                    pay_cur = "usd"
                    pay_amt = first.usd + max(2, round(abs(first.usd * pct))) * (
                        1 if pct > 0 else -1
                    )
                    diff = pay_amt - first.usd
                    note = (
                        f"ERP booked {pay_amt} usd at its own rate; Stripe settled {first.usd} usd"
                    )
                elif kind == "rounding":
                    delta_r = rng.choice((-1, 1))
                    pay_amt, diff = amt + delta_r, delta_r
                    note = "ERP amount off by one minor unit"
                elif kind == "amount_mismatch":
                    pay_amt = _transpose(amt, rng)
                    diff = pay_amt - amt
                    note = f"ERP amount {pay_amt} against charge {amt}: transposed digits"
                elif kind == "timing_difference":
                    note = f"ERP payment dated {pay_day.isoformat()}, next period"
                pn = self.books.payment(
                    doc, pay_day, pay_cur, pay_amt, memo_for(first, doc), first.id, c.id
                )
                self.ctx.match("charge_payment", first.id, doc, pn)
                if kind in (
                    "fee_variance",
                    "fx_variance",
                    "rounding",
                    "amount_mismatch",
                    "timing_difference",
                ):
                    self.ctx.anomaly(
                        Anomaly(
                            first.id,
                            "stripe",
                            kind,
                            cur,
                            amount,
                            self.ctx.period(ts),
                            note,
                            diff,
                            related=(doc, pn),
                        )
                    )
                if kind == "duplicate_erp_entry":
                    last = self.ctx.payments.last_row
                    assert last is not None
                    dup_pn = self.books.next_pmt()
                    self.ctx.payments.write([dup_pn, *last[1:]])
                    self.ctx.anomaly(
                        Anomaly(
                            dup_pn,
                            "erp",
                            kind,
                            cur,
                            amt,
                            self.ctx.period(ts),
                            f"same receipt as {pn} entered twice",
                            related=(pn, doc),
                        )
                    )
                if (
                    link == "none"
                    and len(self.ctx.confirmed) < 2000
                    and not ambiguous
                    and rng.random() < 0.25
                ):
                    self.ctx.confirmed.append((first.id, doc, pn, "", ts))
            if style == "multi_invoice":
                self.ctx.mess.story(
                    "multi_invoice", first.id, docs[0], f"one charge, one receipt each for {', '.join(docs)}"
                )

    def _receipt_without_charge(self, s: Sale) -> None:
        """`missing_in_stripe`: an ERP Stripe receipt (and its invoice) with no charge."""
        rng = self.ctx.rng
        ts, day, kind = s.ts, s.day, s.kind
        ghost_c = self.customers.all[rng.randrange(len(self.customers.all))]
        g_amt = price(rng, ghost_c.currency)
        g_doc = self.books.next_inv()
        self.books.invoice(
            g_doc,
            ghost_c,
            day - dt.timedelta(days=rng.randint(0, 10)),
            ghost_c.currency,
            g_amt,
            "paid",
            "",
        )
        g_pn = self.books.payment(
            g_doc, day, ghost_c.currency, g_amt, g_doc if rng.random() < 0.5 else ""
        )
        self.ctx.anomaly(
            Anomaly(
                g_pn,
                "erp",
                kind,
                ghost_c.currency,
                g_amt,
                self.ctx.period(ts),
                f"ERP Stripe receipt for {g_doc} with no Stripe charge",
                related=(g_doc,),
            )
        )
