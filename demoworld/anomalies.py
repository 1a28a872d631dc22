"""The anomalies planted on purpose: which sales get a charge-level anomaly or a hard shape
(quotas per month, spread over the month's sale slots), and the bad rows written into the
ERP files (unparseable amounts and dates, unknown currencies, duplicate keys).

The anomalies of refunds, disputes and payouts are decided where those are written
(`reversals`, `payouts`); every anomaly is recorded with `WorldContext.anomaly` and
written to truth/anomalies.csv by `truth`.
"""

from __future__ import annotations

from demoworld.context import WorldContext, add_months
from demoworld.erp_books import ErpBooks

# Share of a month's sales that get each charge-level anomaly (at least one a month).
SALE_ANOMALY_RATES: dict[str, float] = {
    "timing_difference": 0.004,
    "fee_variance": 0.004,
    "fx_variance": 0.004,
    "rounding": 0.003,
    "duplicate_charge": 0.0025,
    "missing_in_erp": 0.003,
    "missing_in_stripe": 0.002,
    "amount_mismatch": 0.0025,
    "duplicate_erp_entry": 0.0025,
}
# Shapes of books that are hard to match but not exceptions.
SALE_SHAPE_RATES: dict[str, float] = {"consolidated": 0.01, "partial": 0.01}


def plan_kinds(ctx: WorldContext, counts: list[int]) -> dict[int, str]:
    """Which sale slots get an anomaly or a hard shape: quotas per month, spread."""
    kinds: dict[int, str] = {}
    slot = 0
    month = ctx.start.replace(day=1)
    day_index = 0
    while day_index < ctx.ndays:
        nxt = add_months(month, 1)
        m_days = min((nxt - ctx.start).days, ctx.ndays) - day_index
        first_slot = slot
        last_days_slots: list[int] = []
        for d in range(day_index, day_index + m_days):
            if d >= day_index + m_days - 2:
                last_days_slots.extend(range(slot, slot + counts[d]))
            slot += counts[d]
        n = slot - first_slot
        all_slots = list(range(first_slot, slot))
        ctx.rng.shuffle(all_slots)
        is_last_month = nxt >= ctx.end
        if not is_last_month and last_days_slots:
            quota = max(1, round(SALE_ANOMALY_RATES["timing_difference"] * n))
            for s in ctx.rng.sample(last_days_slots, min(quota, len(last_days_slots))):
                kinds[s] = "timing_difference"
        pos = 0
        rates = {k: v for k, v in SALE_ANOMALY_RATES.items() if k != "timing_difference"}
        rates.update(SALE_SHAPE_RATES)
        for kind, rate in rates.items():
            quota = max(1, round(rate * n)) if kind in SALE_ANOMALY_RATES else round(rate * n)
            while quota > 0 and pos < len(all_slots):
                s = all_slots[pos]
                pos += 1
                if s not in kinds:
                    kinds[s] = kind
                    quota -= 1
        day_index += m_days
        month = nxt
    return kinds



class BadRows:
    """Bad rows in the ERP files, each modelled on the file's last good row."""

    def __init__(self, ctx: WorldContext, books: ErpBooks) -> None:
        self.ctx = ctx
        self.books = books
        self.rows: list[tuple[str, int, str]] = []  # (file, line, reason)

    def plan(self) -> list[tuple[int, str, str]]:
        """(day_index, file, kind) for every bad row: at least one of each kind per file."""
        plan: list[tuple[int, str, str]] = []
        kinds = ("amount", "date", "currency", "duplicate")
        for name, expected in (
            ("invoices.csv", 1.1),
            ("payments.csv", 1.1),
            ("gl_entries.csv", 0.0),
        ):
            n = max(4, round(self.ctx.spec.scale * expected * 0.0005))
            days = sorted(
                self.ctx.rng.sample(
                    range(min(3, self.ctx.ndays - 1), self.ctx.ndays),
                    min(n, self.ctx.ndays - min(3, self.ctx.ndays - 1)),
                )
            )
            plan.extend((d, name, kinds[i % 4]) for i, d in enumerate(days))
        return sorted(plan)

    def inject(self, name: str, kind: str) -> bool:
        """Write one bad row modelled on the file's last good row; False if none yet."""
        sink = {
            "invoices.csv": self.ctx.invoices,
            "payments.csv": self.ctx.payments,
            "gl_entries.csv": self.ctx.gl,
        }[name]
        last = sink.last_row
        if last is None:
            return False
        row = list(last)
        amount_col, date_col, cur_col = {
            "invoices.csv": (8, 5, 7),
            "payments.csv": (4, 2, 3),
            "gl_entries.csv": (5, 2, 7),
        }[name]
        if kind == "duplicate":
            reason = (
                "duplicate key (journal_number, line_number)"
                if name == "gl_entries.csv"
                else f"duplicate key {row[0]}"
            )
        else:
            if name == "invoices.csv":
                row[0] = self.books.next_inv()
            elif name == "payments.csv":
                row[0] = self.books.next_pmt()
            else:
                row[0], row[1], row[6] = self.books.next_je(), "1", "0.00"
            if kind == "amount":
                row[amount_col] = "1,2O4.50"
                reason = "unparseable amount"
            elif kind == "date":
                row[date_col] = self.ctx.rng.choice(("2025-02-30", "31/12/2025", "n/a"))
                reason = "unparseable date"
            else:
                row[cur_col] = "XYZ"
                reason = "unknown currency"
        line = sink.write(row)
        self.rows.append((name, line, reason))
        return True
