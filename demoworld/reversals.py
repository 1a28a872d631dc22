"""What happens to a charge later: its refund (with the ERP's credit memo and refund paid)
and its dispute (chargeback, its journal, its close), written on their day from the heap
where `charges` scheduled them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from demoworld.context import DAY, Anomaly, ChargeRec, Pending, WorldContext, day_of, dumps
from demoworld.erp_books import ErpBooks
from demoworld.stripe_objects import (
    Obj,
    balance_txn_obj,
    dispute_obj,
    event_line,
    fee_detail,
    refund_obj,
)


class Refunds:
    """Writes a refund in Stripe and, mostly, its credit memo and refund paid in the ERP."""

    def __init__(self, ctx: WorldContext, books: ErpBooks) -> None:
        self.ctx = ctx
        self.books = books
        self.n_refunds = 0

    def refund(self, ts: int, p: dict[str, Any]) -> None:
        rng = self.ctx.rng
        rec: ChargeRec = p["rec"]
        ramount: int = p["amount"]
        re_id: str = p["id"]
        txn_id = self.ctx.ids.make("txn_")
        usd = (
            rec.usd
            if ramount == rec.amount
            else (rec.usd * ramount * 2 + rec.amount) // (2 * rec.amount)
        )
        reason = rng.choice((None, "requested_by_customer", "duplicate"))
        refund_bytes = self.ctx.write_obj(
            "refunds",
            refund_obj(
                refund_id=re_id,
                amount=ramount,
                txn_id=txn_id,
                charge_id=rec.id,
                created=ts,
                currency=rec.currency,
                pi_id=rec.pi_id,
                reason=reason,
                reference=f"{rng.randint(10**22, 10**23 - 1)}",
            ),
        )
        txn = balance_txn_obj(
            txn_id=txn_id,
            amount=-usd,
            fee=0,
            fee_details=[],
            available_on=ts,
            created=ts,
            description="REFUND FOR CHARGE",
            exchange_rate=rec.rate,
            reporting_category="refund",
            source=re_id,
            type_="refund",
            end_ts=self.ctx.end_ts,
        )
        self.ctx.write_obj("balance_transactions", txn)
        request_id, idempotency_key = self.ctx.event(
            ts, "charge.refunded", p["final"], previous={"amount_refunded": 0, "refunded": False}
        )
        # Stripe sends refund.created with the Refund itself; one API request (the refund
        # call) made both events, so they share its request id and idempotency key
        self.ctx.emit(
            "events",
            event_line(
                event_id=self.ctx.refund_event_ids.make("evt_"),
                created=ts,
                type_="refund.created",
                obj=refund_bytes,
                request_id=request_id,
                idempotency_key=idempotency_key,
            ),
        )
        self.n_refunds += 1
        day = day_of(ts)
        if self.n_refunds % 25 == 3:
            self.ctx.pool.append(Pending(ts, txn_id, -usd, 0, -usd, re_id, ()))
            self.ctx.anomaly(
                Anomaly(
                    re_id,
                    "stripe",
                    "missing_in_erp",
                    rec.currency,
                    ramount,
                    self.ctx.period(ts),
                    "refund never recorded in the ERP",
                    related=(rec.id,),
                )
            )
            return
        cm = self.books.next_cm()
        self.ctx.pool.append(Pending(ts, txn_id, -usd, 0, -usd, re_id, (cm,)))
        cm_day = self.ctx.mess.credit_memo_date(
            day, self.ctx.start, self.ctx.end - dt.timedelta(days=1), re_id, cm
        )
        self.books.invoice(
            cm,
            rec.customer,
            cm_day,
            rec.currency,
            ramount,
            "paid",
            self.ctx.mess.erp_reference(
                "external_reference",
                re_id if rng.random() < 0.3 else "",
                re_id,
                cm,
                rec.customer.id,
            ),
            doc_type="credit_memo",
        )
        docs: tuple[str, ...] = p["docs"]
        r = rng.random()
        memo = re_id if r < 0.4 else (f"Refund {docs[0]}" if r < 0.7 and docs else "")
        pn = self.books.payment(
            cm,
            self.ctx.same_month_shift(day, 1, 0.2),
            rec.currency,
            -ramount,
            memo,
            re_id,
            rec.customer.id,
        )
        self.ctx.match("refund_payment", re_id, cm, pn)


class Disputes:
    """Writes a dispute, its chargeback journal in the ERP (mostly) and its close."""

    def __init__(self, ctx: WorldContext, books: ErpBooks) -> None:
        self.ctx = ctx
        self.books = books
        self.n_disputes = 0

    def dispute(self, ts: int, p: dict[str, Any]) -> None:
        rng = self.ctx.rng
        rec: ChargeRec = p["rec"]
        dp_id: str = p["id"]
        adj = balance_txn_obj(
            txn_id=self.ctx.ids.make("txn_"),
            amount=-rec.usd,
            fee=1500,
            fee_details=[fee_detail(1500, "Dispute fee")],
            available_on=ts,
            created=ts,
            description=f"Chargeback withdrawal for {rec.id}",
            exchange_rate=rec.rate,
            reporting_category="dispute",
            source=dp_id,
            type_="adjustment",
            end_ts=self.ctx.end_ts,
        )
        close_ts: int = p["close_ts"]
        closed = close_ts < self.ctx.end_ts
        txns = [adj]
        reversal: Obj | None = None
        if closed and p["won"]:
            reversal = balance_txn_obj(
                txn_id=self.ctx.ids.make("txn_"),
                amount=rec.usd,
                fee=-1500,
                fee_details=[fee_detail(-1500, "Dispute fee refund")],
                available_on=close_ts,
                created=close_ts,
                description=f"Chargeback reversal for {rec.id}",
                exchange_rate=rec.rate,
                reporting_category="dispute_reversal",
                source=dp_id,
                type_="adjustment",
                end_ts=self.ctx.end_ts,
            )
            txns.append(reversal)
        due_by = ts + 14 * DAY
        if closed:
            status = "won" if p["won"] else "lost"
        else:
            status = "under_review" if due_by < self.ctx.end_ts else "needs_response"
        common: dict[str, Any] = dict(
            dispute_id=dp_id,
            amount=rec.amount,
            charge_id=rec.id,
            created=ts,
            currency=rec.currency,
            due_by=due_by,
            past_due=False,
            brand=rec.customer.brand,
            reason=p["reason"],
            pi_id=rec.pi_id,
        )
        final = dispute_obj(
            txns=txns, has_evidence=status != "needs_response", status=status, **common
        )
        self.ctx.write_obj("disputes", final)
        self.ctx.write_obj("balance_transactions", adj)
        self.ctx.pool.append(Pending(ts, adj["id"], adj["amount"], 1500, adj["net"], dp_id, ()))
        self.ctx.event(
            ts,
            "charge.dispute.created",
            dumps(dispute_obj(txns=[adj], has_evidence=False, status="needs_response", **common)),
            api_request=False,
        )
        if closed:
            self.ctx.schedule(
                close_ts, "dispute_close", {"final": final, "reversal": reversal, "dp": dp_id}
            )
        self.n_disputes += 1
        if self.n_disputes % 6 == 1:
            self.ctx.anomaly(
                Anomaly(
                    dp_id,
                    "stripe",
                    "unrecorded_dispute",
                    rec.currency,
                    rec.amount,
                    self.ctx.period(ts),
                    f"chargeback of {rec.usd} usd not booked in the ERP",
                    related=(rec.id,),
                )
            )
            return
        memo = f"Chargeback {dp_id}" if rng.random() < 0.6 else f"Chargeback on charge {rec.id}"
        je = self.books.journal(
            self.ctx.same_month_shift(day_of(ts), 2, 0.3),
            memo,
            [
                ("chargebacks", rec.usd),
                ("stripe_fees", 1500),
                ("stripe_clearing", -(rec.usd + 1500)),
            ],
        )
        self.ctx.match("dispute_chargeback", dp_id, je=je)

    def close(self, ts: int, p: dict[str, Any]) -> None:
        reversal: Obj | None = p["reversal"]
        if reversal is not None:
            self.ctx.write_obj("balance_transactions", reversal)
            self.ctx.pool.append(
                Pending(
                    reversal["available_on"],
                    reversal["id"],
                    reversal["amount"],
                    reversal["fee"],
                    reversal["net"],
                    p["dp"],
                    (),
                )
            )
        self.ctx.event(
            ts,
            "charge.dispute.closed",
            dumps(p["final"]),
            previous={"status": "under_review"},
            api_request=False,
        )

