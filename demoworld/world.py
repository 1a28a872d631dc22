"""The deterministic, streaming demo-world generator.

A *world* is a Stripe account and the company's ERP books telling the same story, with
the mess of real books, a known set of anomalies and the ground truth (see
WORLD_FORMAT.md beside this file). `generate_world(WorldSpec(...), out_dir)` writes it.

How it streams: days are generated in chronological order; every object is written as
soon as it is final. Whatever happens to a charge later (refund, dispute and its
outcome) is decided when the charge is created, so the charge is written once, in its
final state; the later happenings wait in a heap keyed by time. Bounded state only: the
customers pool, the balance transactions not yet paid out, the heap and the anomaly
list (a few percent of items).

Determinism: only `random.Random` instances seeded from the spec, no clocks, no
`hash()`; JSON keys in a fixed order, CSV rows in a fixed order.

The parts, one module each, share one `WorldContext` (demoworld/context.py: the spec, the
random streams, the ids, the open files, the heap): `customers`, `charges` (a charge, its
payment intent and Stripe invoice), `sales` (a sale's shape and charges), `reversals`
(refunds and disputes), `payouts`, `erp_books` (the ERP's documents, receipts and journals,
and how a sale is booked), `anomalies` (which sales get one; the bad rows) and `truth`
(what is written at the end). The writer below calls them in the order that is the order of
the random draws: a change to that order changes every world.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from demoworld.anomalies import BadRows, plan_kinds
from demoworld.bank import write_bank
from demoworld.charges import Charges
from demoworld.context import DAY, WorldContext, WorldSpec, epoch
from demoworld.customers import Customers
from demoworld.erp_books import ErpBooks, SaleBooks
from demoworld.mess import add_mess_options, resolve_mess
from demoworld.paymethods import PaymentMethods
from demoworld.payouts import Payouts
from demoworld.reversals import Disputes, Refunds
from demoworld.sales import Sales, day_counts
from demoworld.truth import DISPOSITIONS, FORMAT_VERSION, write_truth

__all__ = [
    "DISPOSITIONS",
    "FORMAT_VERSION",
    "WorldSpec",
    "WorldSummary",
    "generate_world",
    "main",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorldSummary:
    """What `generate_world` wrote."""

    out_dir: Path
    counts: dict[str, int]
    anomalies: dict[str, int]
    bad_rows: int
    elapsed_seconds: float

    @property
    def objects_written(self) -> int:
        """Lines written to the Stripe and ERP files (sub-counts like charges_failed left out)."""
        return sum(
            n for name, n in self.counts.items() if not name.startswith("charges_") and name != "gl_journals"
        )



class _WorldWriter:
    """One generation run: the days in order, each part called in its turn. Not reusable."""

    def __init__(self, spec: WorldSpec, out_dir: Path) -> None:
        self.ctx = ctx = WorldContext(spec, out_dir)
        self.customers = Customers(ctx)
        self.books = ErpBooks(ctx, self.customers)
        # draws the world's first id (the payout destination's): nothing made before draws
        self.payouts = Payouts(ctx, self.books)
        self.charges = Charges(ctx)
        self.sales = Sales(
            ctx, self.customers, self.charges, self.books, SaleBooks(ctx, self.customers, self.books)
        )
        self.refunds = Refunds(ctx, self.books)
        self.disputes = Disputes(ctx, self.books)
        self.bad_rows = BadRows(ctx, self.books)
        self.methods = PaymentMethods(ctx, self.customers, self.books, self.charges)

    def run(self) -> dict[str, int]:
        ctx = self.ctx
        counts = day_counts(ctx)
        kinds = plan_kinds(ctx, counts)
        bad_plan = self.bad_rows.plan()
        bad_pos = 0
        slot = 0
        for di in range(ctx.ndays):
            day = ctx.start + dt.timedelta(days=di)
            day_ts, next_ts = epoch(day), epoch(day) + DAY
            self.charges.walk_rates()
            self.payouts.balance_event(day_ts)
            self.payouts.payout(di, day_ts)
            items: list[tuple[int, int, str, Any]] = []
            while ctx.heap and ctx.heap[0].ts < next_ts:
                s = heapq.heappop(ctx.heap)
                items.append((s.ts, s.seq, s.kind, s.payload))
            times = sorted(
                ctx.rng.randrange(day_ts + 1000, next_ts - 1000) for _ in range(counts[di])
            )
            for t in times:
                items.append((t, 0, "sale", slot))
                slot += 1
            # the other payment methods' sales, from streams of their own
            for t, method in self.methods.plan_day(day_ts, next_ts, counts[di]):
                items.append((t, 0, "method_sale", method))
            items.sort(key=lambda it: (it[0], it[1]))
            for ts, _, kind, payload in items:
                if kind == "sale":
                    sale_kind = kinds.get(payload, "normal")
                    plan = ctx.mess.plan(ts, ctx.end_ts) if sale_kind == "normal" else None
                    self.sales.sale(ts, day_ts, next_ts, payload, sale_kind, plan)
                    self.books.other(day)
                elif kind == "twin":
                    self.sales.sale(ts, day_ts, next_ts, -1, "normal", payload["plan"])
                elif kind == "instalment":
                    self.sales.instalment(ts, payload)
                elif kind == "refund":
                    self.refunds.refund(ts, payload)
                elif kind == "dispute":
                    self.disputes.dispute(ts, payload)
                elif kind == "dispute_close":
                    self.disputes.close(ts, payload)
                elif kind == "payout_done":
                    self.payouts.done(ts, payload)
                elif kind == "payout_failure":
                    self.payouts.failure(ts, payload)
                elif kind == "debit_returned":
                    self.methods.returned(ts, payload)
                elif kind == "method_sale":
                    self.methods.sale(ts, payload)
            while bad_pos < len(bad_plan) and bad_plan[bad_pos][0] <= di:
                _, name, bad_kind = bad_plan[bad_pos]
                if not self.bad_rows.inject(name, bad_kind):
                    break  # the file has no row yet: try again tomorrow
                bad_pos += 1
            if di % 30 == 0:
                log.debug("day %s: %d sales so far", day, slot)
        self._finish()
        return dict(ctx.counts)

    def _finish(self) -> None:
        self.customers.write_file()
        self.ctx.close_files()
        self.books.write_accounts()
        write_truth(self.ctx, self.bad_rows.rows)
        write_bank(self.ctx)


def generate_world(spec: WorldSpec, out_dir: Path) -> WorldSummary:
    """Write the world of `spec` into `out_dir` (created if needed; files overwritten)."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    log.info("generating demo world seed=%d scale=%d into %s", spec.seed, spec.scale, out_dir)
    writer = _WorldWriter(spec, out_dir)
    counts = writer.run()
    anomalies = dict(sorted(Counter(a.exception_type for a in writer.ctx.anomalies).items()))
    elapsed = time.perf_counter() - t0
    log.info(
        "demo world written in %.1f s: %d charges, %d anomalies, %d bad rows",
        elapsed,
        counts.get("charges", 0),
        len(writer.ctx.anomalies),
        len(writer.bad_rows.rows),
    )
    return WorldSummary(
        out_dir=out_dir,
        counts=counts,
        anomalies=anomalies,
        bad_rows=len(writer.bad_rows.rows),
        elapsed_seconds=elapsed,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the demo world (Stripe + ERP + truth).")
    parser.add_argument("--scale", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--out", type=Path, required=True)
    add_mess_options(parser)
    args = parser.parse_args(argv)
    try:
        mess = resolve_mess(args.mess, args.knob)
    except UserError as error:
        parser.error(str(error))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summary = generate_world(
        WorldSpec(
            seed=args.seed, scale=args.scale, start=args.start, months=args.months, mess=mess
        ),
        args.out,
    )
    print(
        json.dumps(
            {
                "out_dir": str(summary.out_dir),
                "elapsed_seconds": round(summary.elapsed_seconds, 2),
                "counts": summary.counts,
                "anomalies": summary.anomalies,
                "bad_rows": summary.bad_rows,
            },
            indent=2,
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
