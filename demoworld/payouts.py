"""The payouts: each day the available balance transactions are paid out to the bank (the
payout's composition in stripe/payout_balance_transactions.csv), the deposit is booked in the
ERP (or not, or at another amount: the payout anomalies), and the truth of each payout is
written to truth/payouts.csv and truth/payout_invoices.csv.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from demoworld.context import DAY, Anomaly, Pending, WorldContext, day_of, dumps, epoch
from demoworld.csv_sinks import fmt_major
from demoworld.erp_books import ErpBooks
from demoworld.stripe_objects import balance_txn_obj, payout_obj


class Payouts:
    """Writes payouts, their deposits and the daily balance event."""

    def __init__(self, ctx: WorldContext, books: ErpBooks) -> None:
        self.ctx = ctx
        self.books = books
        self.n_paid_payouts = 0
        self.failed_payout_done = False
        # the first id the world draws: make Payouts before anything else draws ids
        self.destination = ctx.ids.make("ba_")

    def payout(self, day_index: int, day_ts: int) -> None:
        rng = self.ctx.rng
        ready = [e for e in self.ctx.pool if e.available_on <= day_ts]
        total = sum(e.net for e in ready)
        if not ready or total <= 0:
            return
        self.ctx.pool = [e for e in self.ctx.pool if e.available_on > day_ts]
        equal = self.ctx.mess.equal_payout(day_index, [e.net for e in ready], total)
        if equal is not None:  # as much as yesterday's payout; the rest waits for tomorrow's
            chosen = set(equal[0])
            self.ctx.pool += [e for i, e in enumerate(ready) if i not in chosen]
            ready = [e for i, e in enumerate(ready) if i in chosen]
            total = sum(e.net for e in ready)
        po_id, txn_id = self.ctx.ids.make("po_"), self.ctx.ids.make("txn_")
        self.ctx.mess.last_payout = (day_index, total, po_id)
        if equal is not None:
            self.ctx.mess.story(
                "equal_payouts", po_id, "", f"{total} usd, as much as {equal[1]} the day before"
            )
        created = day_ts + rng.randint(300, 900)
        arrival_day = day_of(day_ts)
        for _ in range(rng.choice((1, 1, 2))):
            arrival_day += dt.timedelta(days=1)
            while arrival_day.weekday() >= 5:
                arrival_day += dt.timedelta(days=1)
        arrival = epoch(arrival_day)
        paid = arrival < self.ctx.end_ts
        failed = (
            not self.failed_payout_done
            and paid
            and day_index >= self.ctx.ndays * 0.4
            and arrival + DAY < self.ctx.end_ts
        )
        failure_txn = self.ctx.ids.make("txn_") if failed else None
        status = "failed" if failed else ("paid" if paid else "in_transit")
        final = payout_obj(
            payout_id=po_id,
            amount=total,
            arrival_date=arrival,
            txn_id=txn_id,
            created=created,
            destination=self.destination,
            status=status,
            failure_txn_id=failure_txn,
            failure_code="account_closed" if failed else None,
        )
        final_bytes = self.ctx.write_obj("payouts", final)
        own = balance_txn_obj(
            txn_id=txn_id,
            amount=-total,
            fee=0,
            fee_details=[],
            available_on=created,
            created=created,
            description="STRIPE PAYOUT",
            exchange_rate=None,
            reporting_category="payout",
            source=po_id,
            type_="payout",
            end_ts=self.ctx.end_ts,
        )
        self.ctx.write_obj("balance_transactions", own)
        for e in ready:
            self.ctx.composition.write([po_id, e.txn_id])
        self.ctx.composition.write([po_id, txn_id])
        pending = dumps(
            payout_obj(
                payout_id=po_id,
                amount=total,
                arrival_date=arrival,
                txn_id=txn_id,
                created=created,
                destination=self.destination,
                status="pending",
                failure_txn_id=None,
                failure_code=None,
            )
        )
        self.ctx.event(created, "payout.created", pending, api_request=False)
        if paid:
            self.ctx.schedule(arrival, "payout_done", {"final": final_bytes, "failed": failed})
        pairs = sorted({(d, e.source_id) for e in ready for d in e.docs})
        for doc, src in pairs:
            self.ctx.payout_invoices.write([po_id, doc, src])
        n_docs = len({d for d, _ in pairs})
        fees = sum(e.fee for e in ready)
        period = self.ctx.period(created)
        je = ""
        deposit = total
        if failed:
            self.failed_payout_done = True
            recon = "failed"
            self.ctx.schedule(
                arrival + 3600, "payout_failure", {"po": po_id, "amount": total, "txn": failure_txn}
            )
            self.ctx.anomaly(
                Anomaly(
                    po_id,
                    "stripe",
                    "failed_payout",
                    "usd",
                    total,
                    period,
                    "payout failed: account_closed; funds returned to the balance",
                )
            )
        elif not paid:
            recon = "in_transit"
            self.ctx.anomaly(
                Anomaly(
                    po_id,
                    "stripe",
                    "timing_difference",
                    "usd",
                    total,
                    period,
                    f"payout in transit, arrives {arrival_day.isoformat()}",
                )
            )
        else:
            self.n_paid_payouts += 1
            if self.n_paid_payouts % 40 == 7:
                recon = "missing_deposit"
                self.ctx.anomaly(
                    Anomaly(
                        po_id,
                        "stripe",
                        "missing_deposit",
                        "usd",
                        total,
                        period,
                        "paid payout with no bank deposit in the ERP",
                    )
                )
            else:
                recon = "reconciled"
                r = rng.random()
                memo = (
                    f"STRIPE PAYOUT {po_id}"
                    if r < 0.6
                    else ("STRIPE PAYOUT" if r < 0.85 else "STRIPE TRANSFER")
                )
                lines = [
                    ("bank", total),
                    ("stripe_fees", fees),
                    ("stripe_clearing", -(total + fees)),
                ]
                if self.n_paid_payouts % 40 == 27:
                    recon = "variance"
                    deposit, lines = self._deposit_variance(po_id, total, fees, period)
                    memo = f"STRIPE PAYOUT {po_id}"  # findable as this payout's deposit
                posted = self.ctx.same_month_shift(arrival_day, 3, 0.25)
                posted, lag_note = self.ctx.mess.deposit_day(
                    arrival_day,
                    posted,
                    min(self.ctx.month_end(arrival_day), self.ctx.end - dt.timedelta(days=1)),
                )
                memo, memo_note = self.ctx.mess.deposit_memo(memo, po_id, keep_id=recon == "variance")
                je = self.books.journal(posted, memo, [ln for ln in lines if ln[1] != 0])
                for knob, note in (("deposit_lag", lag_note), ("bank_memos", memo_note)):
                    if note:
                        self.ctx.mess.story(knob, po_id, je, note)
                if recon == "variance":
                    self.ctx.anomalies[-1].related = (je,)
                self.ctx.match("payout_deposit", po_id, je=je)
        self.ctx.truth_payouts.write(
            [po_id, status, recon, je, str(deposit) if je else "", str(total), str(n_docs)]
        )

    def _deposit_variance(
        self, po_id: str, total: int, fees: int, period: str
    ) -> tuple[int, list[tuple[str, int]]]:
        """A paid payout whose bank deposit is booked at another amount: the bank took a fee
        off it (booked to bank charges) or the clerk keyed the deposit a few dollars off (on
        the bank and the clearing line alike). Either way the journal balances. Draws from
        the payout-variance stream only; records the `amount_mismatch` anomaly."""
        vr = self.ctx.variance_rng
        if vr.random() < 0.5 and total > 10_000:
            bank_fee = vr.choice((1000, 1500, 2000, 2500, 3000))
            deposit = total - bank_fee
            lines = [
                ("bank", deposit),
                ("bank_fees", bank_fee),
                ("stripe_fees", fees),
                ("stripe_clearing", -(total + fees)),
            ]
            note = f"bank fee of {fmt_major(bank_fee, 'usd')} USD taken off the deposit"
            resolution = "Incoming transfer fee taken by the bank; booked to 6170 Bank Charges."
        else:
            delta = vr.randint(1, 9) * 100
            if vr.random() < 0.5 and delta < total:
                delta = -delta
            deposit = total + delta
            lines = [
                ("bank", deposit),
                ("stripe_fees", fees),
                ("stripe_clearing", -(deposit + fees)),
            ]
            note = f"deposit keyed {fmt_major(abs(delta), 'usd')} USD " + (
                "too high" if delta > 0 else "too low"
            )
            resolution = "Keying error in the deposit amount; corrected the journal."
        self.ctx.anomaly(
            Anomaly(
                po_id,
                "stripe",
                "amount_mismatch",
                "usd",
                total,
                period,
                note,
                difference_minor=deposit - total,
                resolution=resolution,
                own_stream=True,
            )
        )
        return deposit, lines

    def done(self, ts: int, p: dict[str, Any]) -> None:
        if p["failed"]:
            self.ctx.event(
                ts,
                "payout.failed",
                p["final"],
                api_request=False,
                previous={
                    "status": "in_transit",
                    "failure_code": None,
                    "failure_balance_transaction": None,
                },
            )
        else:
            self.ctx.event(
                ts, "payout.paid", p["final"], previous={"status": "in_transit"}, api_request=False
            )

    def failure(self, ts: int, p: dict[str, Any]) -> None:
        txn = balance_txn_obj(
            txn_id=p["txn"],
            amount=p["amount"],
            fee=0,
            fee_details=[],
            available_on=ts,
            created=ts,
            description="Payout failure",
            exchange_rate=None,
            reporting_category="payout_reversal",
            source=p["po"],
            type_="payout_failure",
            end_ts=self.ctx.end_ts,
        )
        self.ctx.write_obj("balance_transactions", txn)
        self.ctx.pool.append(Pending(ts, p["txn"], p["amount"], 0, p["amount"], p["po"], ()))

    def balance_event(self, day_ts: int) -> None:
        avail = sum(e.net for e in self.ctx.pool if e.available_on <= day_ts)
        pend = sum(e.net for e in self.ctx.pool if e.available_on > day_ts)
        obj = {
            "object": "balance",
            "available": [{"amount": avail, "currency": "usd", "source_types": {"card": avail}}],
            "livemode": False,
            "pending": [{"amount": pend, "currency": "usd", "source_types": {"card": pend}}],
        }
        self.ctx.event(day_ts, "balance.available", dumps(obj), api_request=False)

