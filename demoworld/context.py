"""What every part of one generation run shares: the spec, the calendar, the random streams,
the id makers, the open files (sinks), the heap of later happenings and the records that the
truth is written from at the end.

The parts (`customers`, `charges`, `sales`, `reversals`, `payouts`, `erp_books`,
`anomalies`, `truth`) each get this one `WorldContext` and draw from its streams; the order
of their calls, kept by `world._WorldWriter`, is the order of the draws, and so the world.
"""

from __future__ import annotations

import calendar
import datetime as dt
import heapq
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import IO, Any

import orjson

from demoworld.csv_sinks import GL_COLUMNS, INVOICE_COLUMNS, PAYMENT_COLUMNS, CsvSink
from demoworld.mess import NONE, MessSettings
from demoworld.mess_stories import Mess, SalePlan, sub_rng
from demoworld.stripe_objects import Customer, IdMaker, Obj, event_line
from demoworld.truth_extras import TruthExtras

DAY = 86_400


@dataclass(frozen=True)
class PaymentMethodSpec:
    """A payment method whose money moves otherwise than a card's, as the world makes it
    (demoworld/paymethods.py). Its settlement and fees are what the project's seed
    seeds/payment_methods.csv says of the method (a test holds the defaults to it)."""

    name: str  # Stripe's payment_method_details.type
    currency: str
    share: float  # sales of this method per card sale of the day
    shape: str  # "debit": one invoice, may be returned; "transfer": one transfer, several invoices
    settlement_days: int  # days until its money is final (a debit may fail until then)
    fee_percent_bps: int
    fee_fixed_minor: int  # in the balance currency (usd)
    fee_cap_minor: int | None = None
    failure_rate: float = 0.0  # debits returned by the bank after they succeeded

    def fee(self, settled_minor: int) -> int:
        """The schedule's fee on a settled amount (minor units, rounded half up, capped)."""
        fee = (settled_minor * self.fee_percent_bps + 5000) // 10000 + self.fee_fixed_minor
        return fee if self.fee_cap_minor is None else min(fee, self.fee_cap_minor)


# ACH and SEPA Direct Debit (returned by the bank days later now and then) and bank transfers to
# a customer balance (one transfer paying several invoices), each with its own fee schedule.
DEFAULT_PAYMENT_METHODS: tuple[PaymentMethodSpec, ...] = (
    PaymentMethodSpec("us_bank_account", "usd", 0.012, "debit", 4, 80, 0, 500, failure_rate=0.15),
    PaymentMethodSpec("sepa_debit", "eur", 0.006, "debit", 5, 0, 35, None, failure_rate=0.15),
    PaymentMethodSpec("customer_balance", "usd", 0.006, "transfer", 0, 50, 0, 500),
)


@dataclass(frozen=True)
class WorldSpec:
    """What to generate: the same spec gives the same bytes in every file."""

    seed: int = 42
    scale: int = 10_000  # number of sales (about one successful charge each)
    start: dt.date = dt.date(2025, 1, 1)
    months: int = 6
    mess: MessSettings = NONE  # the phenomena of messy books (demoworld/mess.py)
    # the payment methods besides cards (demoworld/paymethods.py); () for cards alone
    payment_methods: tuple[PaymentMethodSpec, ...] = DEFAULT_PAYMENT_METHODS


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def epoch(day: dt.date) -> int:
    return calendar.timegm(day.timetuple())


def day_of(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date()


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


@dataclass(slots=True)
class Pending:
    """A balance transaction waiting for a payout."""

    available_on: int
    txn_id: str
    amount: int
    fee: int
    net: int
    source_id: str
    docs: tuple[str, ...]


@dataclass(slots=True)
class ChargeRec:
    id: str
    pi_id: str
    amount: int
    currency: str
    created: int
    usd: int
    fee: int
    net: int
    rate: float | None
    customer: Customer


@dataclass(slots=True)
class Anomaly:
    object_id: str
    side: str
    exception_type: str
    currency: str
    amount_minor: int
    period: str
    note: str
    difference_minor: int | None = None
    # the analyst's note in decisions/ when it is not the type's usual one
    resolution: str | None = None
    # drawn from the payout-variance stream (its decision draws from it too, so that adding
    # these anomalies left every other byte of a world as it was)
    own_stream: bool = False
    # the other objects the anomaly is about (truth/anomaly_related.csv)
    related: tuple[str, ...] = ()
    # the stream its decision draws from when neither the main one nor the variance one
    # (demoworld/paymethods.py: its anomalies leave every other decision as it was)
    rng: Random | None = None


@dataclass(slots=True)
class Sale:
    """One sale while it is written: what `sales` decided, for `erp_books` to book."""

    ts: int
    day: dt.date
    kind: str  # normal, a hard shape (consolidated, partial) or a charge-level anomaly
    plan: SalePlan | None  # what the mess knobs make of it (demoworld/mess_stories.py)
    style: str  # the plan's style, "normal" without one
    ambiguous: bool  # nothing on either side tells it from its twin
    split_sale: bool  # one charge paying several invoices, or one invoice several charges
    c: Customer
    amount: int
    granule: int
    link: str  # how the charge names its invoice(s)
    doc_amounts: list[tuple[str, int]]  # the ERP invoices, numbered
    docs: tuple[str, ...]
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    amounts: list[int] = field(default_factory=list)  # of its charges
    recs: list[ChargeRec] = field(default_factory=list)  # its charges, the first first


@dataclass(order=True)
class Scheduled:
    ts: int
    seq: int
    kind: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)


class WorldContext:
    """The shared state of one generation run. Not reusable."""

    def __init__(self, spec: WorldSpec, out_dir: Path) -> None:
        if spec.scale < 1 or spec.months < 1:
            raise ValueError("scale and months must be at least 1")
        self.spec = spec
        self.out = out_dir
        self.rng = sub_rng(spec.seed, "world")
        self.ids = IdMaker(sub_rng(spec.seed, "ids"))
        # refund.created events draw their ids from their own stream, so adding them left
        # every other id (and every other file) of a world exactly as it was
        self.refund_event_ids = IdMaker(sub_rng(spec.seed, "refund_events"))
        # so do the deposits booked at another amount than their payout (`variance` payouts)
        self.variance_rng = sub_rng(spec.seed, "payout_variance")
        self.start = spec.start
        self.end = add_months(spec.start, spec.months)  # exclusive
        self.end_ts = epoch(self.end)
        self.ndays = (self.end - self.start).days
        self.counts: Counter[str] = Counter()
        # the balance transactions not yet paid out
        self.pool: list[Pending] = []
        self.heap: list[Scheduled] = []
        self.seq = 0
        self.anomalies: list[Anomaly] = []
        # (stripe id, document, payment, journal, ts) an analyst confirmed or rejected
        self.confirmed: list[tuple[str, str, str, str, int]] = []
        self.rejected: list[tuple[str, str, str, str, int]] = []
        self._open_files()
        self.mess = Mess(spec.mess, spec.seed, out_dir)
        self.extra = TruthExtras(out_dir)

    # ---------------------------------------------------------------- files
    def _open_files(self) -> None:
        for sub in ("stripe", "erp", "decisions", "truth"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self.jsonl: dict[str, IO[bytes]] = {
            name: (self.out / "stripe" / f"{name}.jsonl").open("wb", buffering=1 << 20)
            for name in (
                "payment_intents",
                "charges",
                "refunds",
                "disputes",
                "invoices",
                "balance_transactions",
                "payouts",
                "events",
            )
        }
        self.composition = CsvSink(
            self.out / "stripe" / "payout_balance_transactions.csv",
            ["payout_id", "balance_transaction_id"],
        )
        self.invoices = CsvSink(self.out / "erp" / "invoices.csv", INVOICE_COLUMNS)
        self.payments = CsvSink(self.out / "erp" / "payments.csv", PAYMENT_COLUMNS)
        self.gl = CsvSink(self.out / "erp" / "gl_entries.csv", GL_COLUMNS)
        self.matches = CsvSink(
            self.out / "truth" / "matches.csv",
            [
                "match_type",
                "stripe_object_id",
                "erp_document_number",
                "erp_payment_number",
                "erp_journal_number",
            ],
        )
        self.truth_payouts = CsvSink(
            self.out / "truth" / "payouts.csv",
            [
                "payout_id",
                "status",
                "expected_recon_status",
                "erp_journal_number",
                "deposit_amount_minor",
                "payout_amount_minor",
                "invoice_count",
            ],
        )
        self.payout_invoices = CsvSink(
            self.out / "truth" / "payout_invoices.csv",
            ["payout_id", "erp_document_number", "stripe_object_id"],
        )

    def close_files(self) -> None:
        """Close the files written while the days run, counting their rows."""
        for handle in self.jsonl.values():
            handle.close()
        self.counts["payout_balance_transactions"] = self.composition.rows
        self.counts["erp_invoices"] = self.invoices.rows
        self.counts["erp_payments"] = self.payments.rows
        self.counts["erp_gl_lines"] = self.gl.rows
        for sink in (
            self.composition,
            self.invoices,
            self.payments,
            self.gl,
            self.matches,
            self.truth_payouts,
            self.payout_invoices,
        ):
            sink.close()
        self.mess.close()

    def emit(self, name: str, line: bytes) -> None:
        self.jsonl[name].write(line)
        self.counts[name] += 1

    def write_obj(self, name: str, obj: Obj) -> bytes:
        data = dumps(obj)
        self.emit(name, data + b"\n")
        return data

    def event(
        self, ts: int, type_: str, obj: bytes, previous: Obj | None = None, api_request: bool = True
    ) -> tuple[str | None, str | None]:
        """Write one event; returns its request id and idempotency key (None, None without)."""
        req = self.ids.make("req_", 14) if api_request else None
        key = self.ids.uuid() if api_request else None
        self.emit(
            "events",
            event_line(
                event_id=self.ids.make("evt_"),
                created=ts,
                type_=type_,
                obj=obj,
                previous=previous,
                request_id=req,
                idempotency_key=key,
            ),
        )
        return req, key

    def match(
        self, match_type: str, stripe_id: str, doc: str = "", pmt: str = "", je: str = ""
    ) -> None:
        self.matches.write([match_type, stripe_id, doc, pmt, je])

    def schedule(self, ts: int, kind: str, payload: dict[str, Any]) -> None:
        if ts < self.end_ts:
            self.seq += 1
            heapq.heappush(self.heap, Scheduled(ts, self.seq, kind, payload))

    @contextmanager
    def streams(self, rng: Random, ids: IdMaker) -> Iterator[None]:
        """Every draw of the parts (values and ids) from these streams for a while: what a part
        with streams of its own makes through the shared makers leaves the main streams as
        they were."""
        saved = self.rng, self.ids
        self.rng, self.ids = rng, ids
        try:
            yield
        finally:
            self.rng, self.ids = saved

    # ---------------------------------------------------------------- helpers
    def period(self, ts: int) -> str:
        return day_of(ts).strftime("%Y-%m")

    def anomaly(self, a: Anomaly) -> None:
        self.anomalies.append(a)

    def month_end(self, day: dt.date) -> dt.date:
        return add_months(day.replace(day=1), 1) - dt.timedelta(days=1)

    def same_month_shift(self, day: dt.date, max_days: int, p: float) -> dt.date:
        """Sometimes a few days later, never into the next month or past the world's end."""
        if self.rng.random() >= p:
            return day
        shifted = day + dt.timedelta(days=self.rng.randint(1, max_days))
        last_ok = min(self.month_end(day), self.end - dt.timedelta(days=1))
        return shifted if shifted <= last_ok else day
