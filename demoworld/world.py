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
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import hashlib
import heapq
import json
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from random import Random
from typing import IO, Any

import orjson

from core.errors import UserError
from core.vocabulary import DISPOSITION_OF_TYPE
from demoworld._erp_books import (
    ACCOUNT_BY_ROLE,
    CHART_OF_ACCOUNTS,
    EXPONENTS,
    GL_COLUMNS,
    INVOICE_COLUMNS,
    PAYMENT_COLUMNS,
    CsvSink,
    fmt_major,
)
from demoworld._mess import Mess, SalePlan
from demoworld._stripe_objects import (
    API_VERSION,
    Customer,
    IdMaker,
    Obj,
    balance_txn_obj,
    charge_obj,
    customer_obj,
    dispute_obj,
    event_line,
    fee_detail,
    invoice_obj,
    payment_intent_obj,
    payout_obj,
    refund_obj,
)
from demoworld._truth import TruthExtras
from demoworld.mess import NONE, MessSettings, add_mess_options, resolve_mess

log = logging.getLogger(__name__)

DAY = 86_400
FORMAT_VERSION = 1

# exception_type -> disposition (CONTRACT.md section 5)
DISPOSITIONS = DISPOSITION_OF_TYPE

# Share of a month's sales that get each charge-level anomaly (at least one a month).
_SALE_ANOMALY_RATES: dict[str, float] = {
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
_SALE_SHAPE_RATES: dict[str, float] = {"consolidated": 0.01, "partial": 0.01}

_CURRENCIES: tuple[str, ...] = ("usd", "eur", "gbp", "cad", "jpy", "kwd")
_CURRENCY_WEIGHTS: tuple[int, ...] = (65, 12, 8, 6, 5, 4)
_BASE_RATES: dict[str, float] = {"eur": 1.08, "gbp": 1.27, "cad": 0.73, "jpy": 0.0067, "kwd": 3.25}
_GRANULE: dict[str, int] = {"kwd": 10}  # Stripe wants KWD amounts in multiples of 10 fils
_COUNTRIES: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "usd": (
        ("US", "San Francisco", "CA"),
        ("US", "Austin", "TX"),
        ("US", "New York", "NY"),
        ("US", "Chicago", "IL"),
        ("US", "Seattle", "WA"),
        ("MX", "Mexico City", None),
    ),
    "eur": (
        ("DE", "Berlin", None),
        ("FR", "Paris", None),
        ("NL", "Amsterdam", None),
        ("ES", "Madrid", None),
        ("IE", "Dublin", None),
    ),
    "gbp": (("GB", "London", None), ("GB", "Manchester", None)),
    "cad": (("CA", "Toronto", "ON"), ("CA", "Vancouver", "BC")),
    "jpy": (("JP", "Tokyo", None), ("JP", "Osaka", None)),
    "kwd": (("KW", "Kuwait City", None),),
}
_FIRST = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Leon",
    "Sofia",
    "Hugo",
    "Yuki",
    "Haruto",
    "Fatima",
    "Omar",
    "Chloe",
    "James",
    "Amelia",
    "Mateo",
    "Lena",
    "Finn",
    "Ines",
    "Raj",
    "Priya",
    "Sven",
    "Aiko",
    "Zoe",
    "Ethan",
    "Nora",
    "Ali",
    "Maya",
)
_LAST = (
    "Smith",
    "Garcia",
    "Muller",
    "Martin",
    "Tanaka",
    "Sato",
    "Rossi",
    "Kowalski",
    "Brown",
    "Dubois",
    "Jansen",
    "Nguyen",
    "Al-Sabah",
    "Johnson",
    "Lee",
    "Walker",
    "Schmidt",
    "Moreau",
    "O'Brien",
    "Silva",
    "Fischer",
    "Novak",
    "Hughes",
    "Khan",
    "Larsen",
)
_COMPANY = ("Labs", "GmbH", "Ltd", "Inc", "Studio", "Analytics", "Consulting", "KK", "BV")
_DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.co.uk")
_ANALYSTS = ("a.kowalski", "m.tanaka", "j.oconnor", "s.dubois", "r.patel")
_FAILURE_CODES = ("card_declined", "insufficient_funds", "expired_card", "incorrect_cvc")
_DISPUTE_REASONS = (
    "fraudulent",
    "product_not_received",
    "duplicate",
    "subscription_canceled",
    "general",
)


@dataclass(frozen=True)
class WorldSpec:
    """What to generate: the same spec gives the same bytes in every file."""

    seed: int = 42
    scale: int = 10_000  # number of sales (about one successful charge each)
    start: dt.date = dt.date(2025, 1, 1)
    months: int = 6
    mess: MessSettings = NONE  # the phenomena of messy books (demoworld/mess.py)


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
        derived = {"charges_failed", "charges_succeeded", "gl_journals"}
        return sum(n for name, n in self.counts.items() if name not in derived)


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def epoch(day: dt.date) -> int:
    return calendar.timegm(day.timetuple())


def day_of(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date()


def _sub_rng(seed: int, purpose: str) -> Random:
    digest = hashlib.sha256(f"{seed}:{purpose}".encode()).digest()
    return Random(int.from_bytes(digest[:8], "big"))


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


@dataclass(slots=True)
class _Pending:
    """A balance transaction waiting for a payout."""

    available_on: int
    txn_id: str
    amount: int
    fee: int
    net: int
    source_id: str
    docs: tuple[str, ...]


@dataclass(slots=True)
class _ChargeRec:
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
class _Anomaly:
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


@dataclass(order=True)
class _Scheduled:
    ts: int
    seq: int
    kind: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)


class _WorldWriter:
    """One generation run. Not reusable."""

    def __init__(self, spec: WorldSpec, out_dir: Path) -> None:
        if spec.scale < 1 or spec.months < 1:
            raise ValueError("scale and months must be at least 1")
        self.spec = spec
        self.out = out_dir
        self.rng = _sub_rng(spec.seed, "world")
        self.ids = IdMaker(_sub_rng(spec.seed, "ids"))
        # refund.created events draw their ids from their own stream, so adding them left
        # every other id (and every other file) of a world exactly as it was
        self.refund_event_ids = IdMaker(_sub_rng(spec.seed, "refund_events"))
        # so do the deposits booked at another amount than their payout (`variance` payouts)
        self.variance_rng = _sub_rng(spec.seed, "payout_variance")
        self.start = spec.start
        self.end = add_months(spec.start, spec.months)  # exclusive
        self.end_ts = epoch(self.end)
        self.ndays = (self.end - self.start).days
        self.counts: Counter[str] = Counter()
        self.customers: list[Customer] = []
        self.target_customers = max(50, spec.scale // 6)
        self.pool: list[_Pending] = []
        self.heap: list[_Scheduled] = []
        self.seq = 0
        self.anomalies: list[_Anomaly] = []
        self.bad_rows: list[tuple[str, int, str]] = []
        self.confirmed: list[tuple[str, str, str, str, int]] = []
        self.rejected: list[tuple[str, str, str, str, int]] = []
        self.rates: dict[str, float] = dict(_BASE_RATES)
        self.rate_dec: dict[str, Decimal] = {}
        self.n_inv = 100_000
        self.n_cm = 2_000
        self.n_pmt = 100_000
        self.n_je = 100_000
        self.n_refunds = 0
        self.n_disputes = 0
        self.n_paid_payouts = 0
        self.prev_charge_id: str | None = None
        self.failed_payout_done = False
        self.destination = self.ids.make("ba_")
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

    def _emit(self, name: str, line: bytes) -> None:
        self.jsonl[name].write(line)
        self.counts[name] += 1

    def _write_obj(self, name: str, obj: Obj) -> bytes:
        data = _dumps(obj)
        self._emit(name, data + b"\n")
        return data

    def _event(
        self, ts: int, type_: str, obj: bytes, previous: Obj | None = None, api_request: bool = True
    ) -> tuple[str | None, str | None]:
        """Write one event; returns its request id and idempotency key (None, None without)."""
        req = self.ids.make("req_", 14) if api_request else None
        key = self.ids.uuid() if api_request else None
        self._emit(
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

    def _schedule(self, ts: int, kind: str, payload: dict[str, Any]) -> None:
        if ts < self.end_ts:
            self.seq += 1
            heapq.heappush(self.heap, _Scheduled(ts, self.seq, kind, payload))

    # ---------------------------------------------------------------- plan
    def _day_counts(self) -> list[int]:
        weights = [
            0.75 if (self.start + dt.timedelta(d)).weekday() >= 5 else 1.0
            for d in range(self.ndays)
        ]
        total = sum(weights)
        raw = [self.spec.scale * w / total for w in weights]
        counts = [math.floor(x) for x in raw]
        order = sorted(range(self.ndays), key=lambda i: (counts[i] - raw[i], i))
        for i in order[: self.spec.scale - sum(counts)]:
            counts[i] += 1
        return counts

    def _plan_kinds(self, counts: list[int]) -> dict[int, str]:
        """Which sale slots get an anomaly or a hard shape: quotas per month, spread."""
        kinds: dict[int, str] = {}
        slot = 0
        month = self.start.replace(day=1)
        day_index = 0
        while day_index < self.ndays:
            nxt = add_months(month, 1)
            m_days = min((nxt - self.start).days, self.ndays) - day_index
            first_slot = slot
            last_days_slots: list[int] = []
            for d in range(day_index, day_index + m_days):
                if d >= day_index + m_days - 2:
                    last_days_slots.extend(range(slot, slot + counts[d]))
                slot += counts[d]
            n = slot - first_slot
            all_slots = list(range(first_slot, slot))
            self.rng.shuffle(all_slots)
            is_last_month = nxt >= self.end
            if not is_last_month and last_days_slots:
                quota = max(1, round(_SALE_ANOMALY_RATES["timing_difference"] * n))
                for s in self.rng.sample(last_days_slots, min(quota, len(last_days_slots))):
                    kinds[s] = "timing_difference"
            pos = 0
            rates = {k: v for k, v in _SALE_ANOMALY_RATES.items() if k != "timing_difference"}
            rates.update(_SALE_SHAPE_RATES)
            for kind, rate in rates.items():
                quota = max(1, round(rate * n)) if kind in _SALE_ANOMALY_RATES else round(rate * n)
                while quota > 0 and pos < len(all_slots):
                    s = all_slots[pos]
                    pos += 1
                    if s not in kinds:
                        kinds[s] = kind
                        quota -= 1
            day_index += m_days
            month = nxt
        return kinds

    # ---------------------------------------------------------------- helpers
    def _walk_rates(self) -> None:
        for cur in list(self.rates):
            r = self.rates[cur] * math.exp(self.rng.gauss(0.0, 0.004))
            self.rates[cur] = float(f"{r:.6g}")
            self.rate_dec[cur] = Decimal(repr(self.rates[cur]))

    def _to_usd(self, amount: int, currency: str) -> int:
        if currency == "usd":
            return amount
        scaled = (
            Decimal(amount) * self.rate_dec[currency] * (Decimal(10) ** (2 - EXPONENTS[currency]))
        )
        return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))

    def _amount(self, currency: str) -> int:
        rng = self.rng
        major = min(max(rng.lognormvariate(math.log(60.0), 0.8), 5.0), 4000.0)
        if currency == "jpy":
            return max(500, round(major * 150 / 100) * 100)
        if currency == "kwd":
            return max(1000, round(major * 0.3 * 100) * 10)
        cents = round(major) * 100 if rng.random() < 0.5 else round(major * 100)
        return max(500, cents)

    def _split(self, amount: int, currency: str) -> int:
        g = _GRANULE.get(currency, 1)
        part = round(amount * self.rng.uniform(0.3, 0.7) / g) * g
        return min(max(part, g), amount - g)

    def _cur_case(self, currency: str) -> str:
        r = self.rng.random()
        return currency.upper() if r < 0.8 else (currency if r < 0.95 else currency.capitalize())

    def _stripe_method(self) -> str:
        r = self.rng.random()
        return "stripe" if r < 0.6 else ("Stripe" if r < 0.85 else "STRIPE")

    def _period(self, ts: int) -> str:
        return day_of(ts).strftime("%Y-%m")

    def _anomaly(self, a: _Anomaly) -> None:
        self.anomalies.append(a)

    def _month_end(self, day: dt.date) -> dt.date:
        return add_months(day.replace(day=1), 1) - dt.timedelta(days=1)

    def _same_month_shift(self, day: dt.date, max_days: int, p: float) -> dt.date:
        """Sometimes a few days later, never into the next month or past the world's end."""
        if self.rng.random() >= p:
            return day
        shifted = day + dt.timedelta(days=self.rng.randint(1, max_days))
        last_ok = min(self._month_end(day), self.end - dt.timedelta(days=1))
        return shifted if shifted <= last_ok else day

    # ---------------------------------------------------------------- customers
    def _new_customer(self, ts: int, day_ts: int, currency: str | None) -> Customer:
        rng = self.rng
        cur = currency or rng.choices(_CURRENCIES, _CURRENCY_WEIGHTS)[0]
        country, city, state = rng.choice(_COUNTRIES[cur])
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        index = len(self.customers)
        name = f"{first} {last}"
        handle = f"{first}.{last}".lower().replace("'", "")
        email = f"{handle}{index}@{rng.choice(_DOMAINS)}"
        r = rng.random()
        if r < 0.85:
            erp_email, erp_name = email, name
        elif r < 0.93:
            erp_email, erp_name = email.upper() if rng.random() < 0.5 else email.capitalize(), name
        elif r < 0.97:
            erp_email, erp_name = email, f"{name} {rng.choice(_COMPANY)}"
        else:
            erp_email, erp_name = email, f"{last}, {first}"
        brand = rng.choices(("visa", "mastercard", "amex", "discover"), (55, 30, 10, 5))[0]
        if brand == "discover" and country != "US":
            brand = "visa"
        c = Customer(
            index=index,
            id=self.ids.make("cus_", 14),
            created=max(day_ts, ts - rng.randint(5, 900)),
            name=name,
            email=email,
            phone=f"+1555{rng.randint(1000000, 9999999)}" if rng.random() < 0.4 else None,
            currency=cur,
            country=country,
            city=city,
            line1=f"{rng.randint(1, 999)} {rng.choice(_LAST)} Street",
            postal_code=f"{rng.randint(10000, 99999)}",
            state=state,
            invoice_prefix="".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ", k=4))
            + f"{rng.randint(0, 9999):04d}",
            erp_number=f"C-{10000 + index}",
            erp_name=erp_name,
            erp_email=erp_email,
            has_erp_metadata=rng.random() < 0.6,
            pm_id=self.ids.make("pm_"),
            brand=brand,
            last4=f"{rng.randint(0, 9999):04d}",
            exp_month=rng.randint(1, 12),
            exp_year=rng.randint(2026, 2031),
            fingerprint="".join(
                rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", k=16)
            ),
            funding=rng.choices(("credit", "debit", "prepaid"), (70, 28, 2))[0],
            card_country=country if rng.random() < 0.95 else "US",
        )
        self.mess.customer(c)
        self.customers.append(c)
        self._event(c.created, "customer.created", _dumps(customer_obj(c, 1)))
        return c

    def _pick_customer(self, ts: int, day_ts: int, slot: int, currency: str | None) -> Customer:
        n = len(self.customers)
        want_new = n < 50 or self.rng.random() < max(0, self.target_customers - n) / max(
            1, self.spec.scale - slot
        )
        if not want_new:
            for _ in range(40):
                c = self.customers[self.rng.randrange(n)]
                if (
                    currency is None
                    or c.currency == currency
                    or (currency == "nonusd" and c.currency != "usd")
                ):
                    return c
        if currency == "nonusd":
            currency = self.rng.choice(_CURRENCIES[1:])
        return self._new_customer(ts, day_ts, currency)

    # ---------------------------------------------------------------- stripe charges
    def _failed_charge(
        self, c: Customer, amount: int, currency: str, ts: int, pi_id: str, standalone: bool
    ) -> str:
        rng = self.rng
        ch_id = self.ids.make("ch_")
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
        data = self._write_obj("charges", ch)
        self._event(ts, "charge.failed", data)
        self.extra.scope("failed_charge", ch_id)
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
                client_secret=f"{pi_id}_secret_{self.ids.make('', 25)}",
            )
            pi_data = self._write_obj("payment_intents", pi)
            self._event(ts, "payment_intent.payment_failed", pi_data)
        self.counts["charges_failed"] += 1
        return ch_id

    def _charge(
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
    ) -> _ChargeRec:
        """One succeeded charge with its payment intent, balance txn, maybe invoice/futures."""
        rng = self.rng
        cur = c.currency
        if rng.random() < 0.015:  # an abandoned failed attempt before the sale
            self._failed_charge(
                c,
                amount,
                cur,
                max(day_ts, c.created + 1, ts - rng.randint(30, 900)),
                self.ids.make("pi_"),
                standalone=True,
            )
        pi_id = self.ids.make("pi_")
        retry_ts = max(day_ts, c.created + 1, ts - rng.randint(20, 300))
        retried = rng.random() < 0.015
        ch_id = self.ids.make("ch_")
        txn_id = self.ids.make("txn_")
        usd = self._to_usd(amount, cur)
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
                ramount = amount if full else self._split(amount, cur)
                if rts < self.end_ts:
                    refund = {"ts": rts, "amount": ramount, "id": self.ids.make("re_")}
            elif r < 0.0563:
                dts = ts + rng.randint(5, 40) * DAY + rng.randint(-3600, 3600)
                if dts < self.end_ts:
                    dispute = {
                        "ts": dts,
                        "id": self.ids.make("dp_"),
                        "close_ts": dts + rng.randint(10, 60) * DAY + rng.randint(0, 3600),
                        "won": rng.random() < 0.4,
                        "reason": rng.choice(_DISPUTE_REASONS),
                    }
        invoice_id = self.ids.make("in_") if stripe_invoice_meta is not None else None
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
            receipt_url=f"https://pay.stripe.com/receipts/payment/{self.ids.make('', 40)}",
            risk_score=rng.randint(5, 60),
            authorization_code=f"{rng.randint(0, 999999):06d}",
        )
        final = charge_obj(
            amount_refunded=refund["amount"] if refund else 0,
            dispute_id=dispute["id"] if dispute else None,
            **common,
        )
        if retried:
            self._failed_charge(c, amount, cur, retry_ts, pi_id, standalone=False)
        final_bytes = self._write_obj("charges", final)
        snapshot = (
            final_bytes
            if not (refund or dispute)
            else _dumps(charge_obj(amount_refunded=0, dispute_id=None, **common))
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
            client_secret=f"{pi_id}_secret_{self.ids.make('', 25)}",
        )
        pi_bytes = self._write_obj("payment_intents", pi)
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
            end_ts=self.end_ts,
        )
        self._write_obj("balance_transactions", txn)
        self.pool.append(_Pending(available_on, txn_id, usd, fee, usd - fee, ch_id, docs))
        self._event(ts, "charge.succeeded", snapshot)
        self._event(ts, "payment_intent.succeeded", pi_bytes)
        if invoice_id is not None and stripe_invoice_meta is not None:
            c.next_invoice_sequence += 1
            inv = invoice_obj(
                invoice_id=invoice_id,
                line_id=self.ids.make("il_"),
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
                hosted_token=self.ids.make("", 40),
            )
            self._event(ts, "invoice.paid", self._write_obj("invoices", inv), api_request=False)
        rec = _ChargeRec(ch_id, pi_id, amount, cur, ts, usd, fee, usd - fee, rate, c)
        self.counts["charges_succeeded"] += 1
        if refund:
            self._schedule(
                refund["ts"], "refund", {"rec": rec, "final": final_bytes, "docs": docs, **refund}
            )
        if dispute:
            self._schedule(dispute["ts"], "dispute", {"rec": rec, **dispute})
        return rec

    # ---------------------------------------------------------------- ERP rows
    def _next_inv(self) -> str:
        self.n_inv += 1
        return f"INV-{self.n_inv}"

    def _next_pmt(self) -> str:
        self.n_pmt += 1
        return f"PMT-{self.n_pmt}"

    def _next_je(self) -> str:
        self.n_je += 1
        return f"JE-{self.n_je}"

    def _erp_invoice(
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
            self._cur_case(currency),
            fmt_major(amount, currency),
            status,
            ext_ref,
        ]
        self.mess.export_row("invoices.csv", row, doc)
        self.invoices.write(row)

    def _erp_payment(
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
        pn = self._next_pmt()
        row = [
            pn,
            doc,
            day.isoformat(),
            self._cur_case(currency),
            fmt_major(amount, currency),
            method or self._stripe_method(),
            self.mess.erp_reference("memo", memo, stripe_id, pn, customer_id),
        ]
        self.mess.export_row("payments.csv", row, pn)
        self.payments.write(row)
        return pn

    def _journal(
        self, day: dt.date, memo: str, lines: list[tuple[str, int]], document: str = ""
    ) -> str:
        """A balanced USD journal; lines are (role, signed amount: + debit, - credit)."""
        je = self._next_je()
        assert sum(a for _, a in lines) == 0, lines
        for n, (role, amount) in enumerate(lines, start=1):
            num, name = ACCOUNT_BY_ROLE[role]
            debit = fmt_major(amount, "usd") if amount > 0 else "0.00"
            credit = fmt_major(-amount, "usd") if amount < 0 else "0.00"
            row = [je, str(n), day.isoformat(), num, name, debit, credit, "USD", memo, document]
            self.mess.export_row("gl_entries.csv", row, f"{je}/{n}")
            self.gl.write(row)
        self.counts["gl_journals"] += 1
        return je

    def _match(
        self, match_type: str, stripe_id: str, doc: str = "", pmt: str = "", je: str = ""
    ) -> None:
        self.matches.write([match_type, stripe_id, doc, pmt, je])

    # ---------------------------------------------------------------- a sale
    def _sale(
        self,
        ts: int,
        day_ts: int,
        next_ts: int,
        slot: int,
        kind: str,
        plan: SalePlan | None = None,
    ) -> None:
        """One sale: its charge(s) in Stripe, its invoice(s) and receipt(s) in the ERP, the truth.

        `plan` (from the mess knobs, demoworld/_mess.py) reshapes a normal sale; without one
        the main random stream is drawn in exactly the order it always was."""
        rng = self.rng
        style = plan.style if plan is not None else "normal"
        ambiguous = plan is not None and plan.ambiguous
        if plan is not None and plan.customer is not None:
            c = plan.customer
        else:
            cur_req = (
                "usd" if kind == "fee_variance" else ("nonusd" if kind == "fx_variance" else None)
            )
            c = self._pick_customer(ts, day_ts, slot, cur_req)
        cur = c.currency
        amount = plan.amount if plan is not None and plan.amount is not None else self._amount(cur)
        granule = _GRANULE.get(cur, 1)
        if style == "subscription":
            self.mess.subscribe(c, amount, ts)
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
            a = self._split(amount, cur)
            doc_amounts = [(self._next_inv(), a), (self._next_inv(), amount - a)]
        elif style == "multi_invoice" and plan is not None:
            parts = self.mess.split("multi_invoice", amount, plan.n_docs, granule)
            doc_amounts = [(self._next_inv(), part) for part in parts]
        elif kind != "missing_in_erp":
            doc_amounts = [(self._next_inv(), amount)]
        docs = tuple(d for d, _ in doc_amounts)
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
        metadata, description, stripe_inv_meta, ref_notes = self.mess.stripe_refs(
            metadata, description, stripe_inv_meta
        )
        # an interchangeable twin gets no refund: its credit memo's memo would name its invoice
        allow_future = kind in ("normal", "missing_in_stripe") and not split_sale and not ambiguous
        amounts = [amount]
        if kind == "partial":
            a1 = self._split(amount, cur)
            amounts = [a1, amount - a1]
        elif style == "instalments" and plan is not None:
            amounts = self.mess.split(
                "instalments", amount, len(plan.instalment_offsets) + 1, granule
            )
        recs: list[_ChargeRec] = []
        for i, amt in enumerate(amounts[: 1 if style == "instalments" else None]):
            t = ts if i == 0 else min(ts + rng.randint(600, 7200), next_ts - 1)
            recs.append(
                self._charge(
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
            self.mess.story(knob, recs[0].id, docs[0] if docs else "", note)
        if kind == "duplicate_charge":
            t = min(ts + rng.randint(60, 900), next_ts - 1)
            dup = self._charge(
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
            self._anomaly(
                _Anomaly(
                    dup.id,
                    "stripe",
                    kind,
                    cur,
                    amount,
                    self._period(t),
                    f"second charge for {docs[0]} {t - ts} s after {recs[0].id}",
                    related=(recs[0].id, docs[0]),
                )
            )
        first = recs[0]
        if kind == "missing_in_erp":
            self._anomaly(
                _Anomaly(
                    first.id,
                    "stripe",
                    kind,
                    cur,
                    amount,
                    self._period(ts),
                    "charge never recorded in the ERP",
                )
            )
            return  # not a wrong-reference candidate: it must leave no trace in the ERP
        # ERP invoices
        doc_date = day - dt.timedelta(days=rng.randint(0, 10))
        if plan is not None and plan.doc_date is not None:
            doc_date = plan.doc_date
        delta = (
            self.mess.invoice_delta(plan, amount, granule)
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
                if len(self.rejected) < 2000 and rng.random() < 0.5:
                    self.rejected.append((ref, doc, "", "", ts))
            else:
                ref = ""
            ref = self.mess.erp_reference("external_reference", ref, first.id, doc, c.id)
            status = "open" if delta > 0 else "paid"  # a short payment leaves a balance due
            self._erp_invoice(doc, c, doc_date, cur, amt + delta, status, ref)
        if delta:
            self.mess.story(
                "short_over_payment",
                first.id,
                docs[0],
                f"{'short' if delta > 0 else 'over'} payment: invoice {amount + delta}, "
                f"receipt and charge {amount} {cur}",
            )
        # ERP payments
        pay_day = self._same_month_shift(day, 1, 0.3)
        if kind == "timing_difference":
            pay_day = self._month_end(day) + dt.timedelta(days=1 + rng.randint(0, 2))
        if plan is not None and plan.pay_day is not None:
            pay_day = plan.pay_day

        def memo_for(rec: _ChargeRec, doc: str) -> str:
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
                pn = self._erp_payment(
                    docs[0], pay_day, cur, rec.amount, memo_for(rec, docs[0]), rec.id, c.id
                )
                self._match("charge_payment", rec.id, docs[0], pn)
        elif style == "multi_invoice" and plan is not None and plan.one_receipt:
            applied = docs[0] if plan.receipt_on_first_doc else ""
            memo = (
                self.mess.memo_listing(docs) if plan.memo_lists_docs else memo_for(first, docs[0])
            )
            pn = self._erp_payment(applied, pay_day, cur, amount, memo, first.id, c.id)
            for doc in docs:
                self._match("charge_payment", first.id, doc, pn)
            self.mess.story(
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
                pn = self._erp_payment(
                    doc, pay_day, pay_cur, pay_amt, memo_for(first, doc), first.id, c.id
                )
                self._match("charge_payment", first.id, doc, pn)
                if kind in (
                    "fee_variance",
                    "fx_variance",
                    "rounding",
                    "amount_mismatch",
                    "timing_difference",
                ):
                    self._anomaly(
                        _Anomaly(
                            first.id,
                            "stripe",
                            kind,
                            cur,
                            amount,
                            self._period(ts),
                            note,
                            diff,
                            related=(doc, pn),
                        )
                    )
                if kind == "duplicate_erp_entry":
                    last = self.payments.last_row
                    assert last is not None
                    dup_pn = self._next_pmt()
                    self.payments.write([dup_pn, *last[1:]])
                    self._anomaly(
                        _Anomaly(
                            dup_pn,
                            "erp",
                            kind,
                            cur,
                            amt,
                            self._period(ts),
                            f"same receipt as {pn} entered twice",
                            related=(pn, doc),
                        )
                    )
                if (
                    link == "none"
                    and len(self.confirmed) < 2000
                    and not ambiguous
                    and rng.random() < 0.25
                ):
                    self.confirmed.append((first.id, doc, pn, "", ts))
            if style == "multi_invoice":
                self.mess.story(
                    "multi_invoice", first.id, docs[0], f"one charge, one receipt each for {', '.join(docs)}"
                )
        if kind == "missing_in_stripe":
            ghost_c = self.customers[rng.randrange(len(self.customers))]
            g_amt = self._amount(ghost_c.currency)
            g_doc = self._next_inv()
            self._erp_invoice(
                g_doc,
                ghost_c,
                day - dt.timedelta(days=rng.randint(0, 10)),
                ghost_c.currency,
                g_amt,
                "paid",
                "",
            )
            g_pn = self._erp_payment(
                g_doc, day, ghost_c.currency, g_amt, g_doc if rng.random() < 0.5 else ""
            )
            self._anomaly(
                _Anomaly(
                    g_pn,
                    "erp",
                    kind,
                    ghost_c.currency,
                    g_amt,
                    self._period(ts),
                    f"ERP Stripe receipt for {g_doc} with no Stripe charge",
                    related=(g_doc,),
                )
            )
        self.prev_charge_id = first.id
        self.mess.note_charge(first.id, c.id)
        if plan is not None:
            self._after_planned_sale(
                plan, c, amount, amounts, first, docs, description, metadata, doc_date
            )

    def _after_planned_sale(
        self,
        plan: SalePlan,
        c: Customer,
        amount: int,
        amounts: list[int],
        first: _ChargeRec,
        docs: tuple[str, ...],
        description: str | None,
        metadata: dict[str, str],
        doc_date: dt.date,
    ) -> None:
        """What a planned sale leaves for later (the next instalments, the twin invoice) and
        its story in truth/mess.csv."""
        if plan.style == "instalments":
            for offset, part in zip(plan.instalment_offsets, amounts[1:], strict=False):
                self._schedule(
                    first.created + offset,
                    "instalment",
                    {"c": c, "amount": part, "doc": docs[0], "description": description,
                     "metadata": metadata},
                )
            self.mess.story(
                "instalments", first.id, docs[0], f"instalment 1 of {len(amounts)}: {first.amount}"
            )
        elif plan.style == "twin" and plan.twin_ts is not None:
            self._schedule(
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
                self.extra.group(pairs)
            self.mess.story(
                "twin_invoices",
                first.id,
                docs[0],
                f"second invoice of {amount} {c.currency} for {c.id} after {plan.partner[1]} "
                f"({plan.partner[0]}); " + ("interchangeable" if plan.ambiguous else "told apart"),
            )
        elif plan.style == "renewal":
            self.mess.story(
                "subscriptions", first.id, docs[0], f"renewal {plan.n_docs} of {amount} for {c.id}"
            )
        elif plan.style == "subscription":
            self.mess.story("subscriptions", first.id, docs[0], f"subscription of {amount} starts")

    def _instalment(self, ts: int, p: dict[str, Any]) -> None:
        """A later instalment of an invoice: its own charge and its own receipt."""
        c: Customer = p["c"]
        day = day_of(ts)
        rec = self._charge(
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
        r = self.mess.rng("instalments").random()
        memo = rec.id if r < 0.35 else (p["doc"] if r < 0.65 else "")
        pn = self._erp_payment(p["doc"], day, c.currency, rec.amount, memo, rec.id, c.id)
        self._match("charge_payment", rec.id, p["doc"], pn)
        self.mess.story("instalments", rec.id, p["doc"], f"later instalment: {rec.amount}")
        self.mess.note_charge(rec.id, c.id)

    def _other_erp(self, day: dt.date) -> None:
        """Books that are not Stripe's business: open, void and wire/check-paid invoices."""
        rng = self.rng
        r = rng.random()
        if not self.customers or r >= 0.075:
            return
        c = self.customers[rng.randrange(len(self.customers))]
        amt = self._amount(c.currency)
        doc = self._next_inv()
        doc_date = day - dt.timedelta(days=rng.randint(0, 5))
        if r < 0.04:
            self._erp_invoice(doc, c, doc_date, c.currency, amt, "open", "")
            self.extra.scope("open_invoice", doc)
        elif r < 0.043:
            self._erp_invoice(doc, c, doc_date, c.currency, amt, "void", "")
            self.extra.scope("void_invoice", doc)
        else:
            self._erp_invoice(doc, c, doc_date, c.currency, amt, "paid", "")
            method = rng.choice(("wire", "check", "Wire", "CHECK"))
            memo = (
                f"WIRE REF {rng.randint(100000, 999999)}"
                if method.lower() == "wire"
                else f"CHECK {rng.randint(1000, 9999)}"
            )
            pn = self._erp_payment(doc, day, c.currency, amt, memo, method=method)
            self.extra.scope("wire_check", doc, pn)

    # ---------------------------------------------------------------- futures
    def _do_refund(self, ts: int, p: dict[str, Any]) -> None:
        rng = self.rng
        rec: _ChargeRec = p["rec"]
        ramount: int = p["amount"]
        re_id: str = p["id"]
        txn_id = self.ids.make("txn_")
        usd = (
            rec.usd
            if ramount == rec.amount
            else (rec.usd * ramount * 2 + rec.amount) // (2 * rec.amount)
        )
        reason = rng.choice((None, "requested_by_customer", "duplicate"))
        refund_bytes = self._write_obj(
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
            end_ts=self.end_ts,
        )
        self._write_obj("balance_transactions", txn)
        request_id, idempotency_key = self._event(
            ts, "charge.refunded", p["final"], previous={"amount_refunded": 0, "refunded": False}
        )
        # Stripe sends refund.created with the Refund itself; one API request (the refund
        # call) made both events, so they share its request id and idempotency key
        self._emit(
            "events",
            event_line(
                event_id=self.refund_event_ids.make("evt_"),
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
            self.pool.append(_Pending(ts, txn_id, -usd, 0, -usd, re_id, ()))
            self._anomaly(
                _Anomaly(
                    re_id,
                    "stripe",
                    "missing_in_erp",
                    rec.currency,
                    ramount,
                    self._period(ts),
                    "refund never recorded in the ERP",
                    related=(rec.id,),
                )
            )
            return
        self.n_cm += 1
        cm = f"CM-{self.n_cm}"
        self.pool.append(_Pending(ts, txn_id, -usd, 0, -usd, re_id, (cm,)))
        cm_day = self.mess.credit_memo_date(
            day, self.start, self.end - dt.timedelta(days=1), re_id, cm
        )
        self._erp_invoice(
            cm,
            rec.customer,
            cm_day,
            rec.currency,
            ramount,
            "paid",
            self.mess.erp_reference(
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
        pn = self._erp_payment(
            cm,
            self._same_month_shift(day, 1, 0.2),
            rec.currency,
            -ramount,
            memo,
            re_id,
            rec.customer.id,
        )
        self._match("refund_payment", re_id, cm, pn)

    def _do_dispute(self, ts: int, p: dict[str, Any]) -> None:
        rng = self.rng
        rec: _ChargeRec = p["rec"]
        dp_id: str = p["id"]
        adj = balance_txn_obj(
            txn_id=self.ids.make("txn_"),
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
            end_ts=self.end_ts,
        )
        close_ts: int = p["close_ts"]
        closed = close_ts < self.end_ts
        txns = [adj]
        reversal: Obj | None = None
        if closed and p["won"]:
            reversal = balance_txn_obj(
                txn_id=self.ids.make("txn_"),
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
                end_ts=self.end_ts,
            )
            txns.append(reversal)
        due_by = ts + 14 * DAY
        if closed:
            status = "won" if p["won"] else "lost"
        else:
            status = "under_review" if due_by < self.end_ts else "needs_response"
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
        self._write_obj("disputes", final)
        self._write_obj("balance_transactions", adj)
        self.pool.append(_Pending(ts, adj["id"], adj["amount"], 1500, adj["net"], dp_id, ()))
        self._event(
            ts,
            "charge.dispute.created",
            _dumps(dispute_obj(txns=[adj], has_evidence=False, status="needs_response", **common)),
            api_request=False,
        )
        if closed:
            self._schedule(
                close_ts, "dispute_close", {"final": final, "reversal": reversal, "dp": dp_id}
            )
        self.n_disputes += 1
        if self.n_disputes % 6 == 1:
            self._anomaly(
                _Anomaly(
                    dp_id,
                    "stripe",
                    "unrecorded_dispute",
                    rec.currency,
                    rec.amount,
                    self._period(ts),
                    f"chargeback of {rec.usd} usd not booked in the ERP",
                    related=(rec.id,),
                )
            )
            return
        memo = f"Chargeback {dp_id}" if rng.random() < 0.6 else f"Chargeback on charge {rec.id}"
        je = self._journal(
            self._same_month_shift(day_of(ts), 2, 0.3),
            memo,
            [
                ("chargebacks", rec.usd),
                ("stripe_fees", 1500),
                ("stripe_clearing", -(rec.usd + 1500)),
            ],
        )
        self._match("dispute_chargeback", dp_id, je=je)

    def _do_dispute_close(self, ts: int, p: dict[str, Any]) -> None:
        reversal: Obj | None = p["reversal"]
        if reversal is not None:
            self._write_obj("balance_transactions", reversal)
            self.pool.append(
                _Pending(
                    reversal["available_on"],
                    reversal["id"],
                    reversal["amount"],
                    reversal["fee"],
                    reversal["net"],
                    p["dp"],
                    (),
                )
            )
        self._event(
            ts,
            "charge.dispute.closed",
            _dumps(p["final"]),
            previous={"status": "under_review"},
            api_request=False,
        )

    # ---------------------------------------------------------------- payouts
    def _payout(self, day_index: int, day_ts: int) -> None:
        rng = self.rng
        ready = [e for e in self.pool if e.available_on <= day_ts]
        total = sum(e.net for e in ready)
        if not ready or total <= 0:
            return
        self.pool = [e for e in self.pool if e.available_on > day_ts]
        equal = self.mess.equal_payout(day_index, [e.net for e in ready], total)
        if equal is not None:  # as much as yesterday's payout; the rest waits for tomorrow's
            chosen = set(equal[0])
            self.pool += [e for i, e in enumerate(ready) if i not in chosen]
            ready = [e for i, e in enumerate(ready) if i in chosen]
            total = sum(e.net for e in ready)
        po_id, txn_id = self.ids.make("po_"), self.ids.make("txn_")
        self.mess.last_payout = (day_index, total, po_id)
        if equal is not None:
            self.mess.story(
                "equal_payouts", po_id, "", f"{total} usd, as much as {equal[1]} the day before"
            )
        created = day_ts + rng.randint(300, 900)
        arrival_day = day_of(day_ts)
        for _ in range(rng.choice((1, 1, 2))):
            arrival_day += dt.timedelta(days=1)
            while arrival_day.weekday() >= 5:
                arrival_day += dt.timedelta(days=1)
        arrival = epoch(arrival_day)
        paid = arrival < self.end_ts
        failed = (
            not self.failed_payout_done
            and paid
            and day_index >= self.ndays * 0.4
            and arrival + DAY < self.end_ts
        )
        failure_txn = self.ids.make("txn_") if failed else None
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
        final_bytes = self._write_obj("payouts", final)
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
            end_ts=self.end_ts,
        )
        self._write_obj("balance_transactions", own)
        for e in ready:
            self.composition.write([po_id, e.txn_id])
        self.composition.write([po_id, txn_id])
        pending = _dumps(
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
        self._event(created, "payout.created", pending, api_request=False)
        if paid:
            self._schedule(arrival, "payout_done", {"final": final_bytes, "failed": failed})
        pairs = sorted({(d, e.source_id) for e in ready for d in e.docs})
        for doc, src in pairs:
            self.payout_invoices.write([po_id, doc, src])
        n_docs = len({d for d, _ in pairs})
        fees = sum(e.fee for e in ready)
        period = self._period(created)
        je = ""
        deposit = total
        if failed:
            self.failed_payout_done = True
            recon = "failed"
            self._schedule(
                arrival + 3600, "payout_failure", {"po": po_id, "amount": total, "txn": failure_txn}
            )
            self._anomaly(
                _Anomaly(
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
            self._anomaly(
                _Anomaly(
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
                self._anomaly(
                    _Anomaly(
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
                posted = self._same_month_shift(arrival_day, 3, 0.25)
                posted, lag_note = self.mess.deposit_day(
                    arrival_day,
                    posted,
                    min(self._month_end(arrival_day), self.end - dt.timedelta(days=1)),
                )
                memo, memo_note = self.mess.deposit_memo(memo, po_id, keep_id=recon == "variance")
                je = self._journal(posted, memo, [ln for ln in lines if ln[1] != 0])
                for knob, note in (("deposit_lag", lag_note), ("bank_memos", memo_note)):
                    if note:
                        self.mess.story(knob, po_id, je, note)
                if recon == "variance":
                    self.anomalies[-1].related = (je,)
                self._match("payout_deposit", po_id, je=je)
        self.truth_payouts.write(
            [po_id, status, recon, je, str(deposit) if je else "", str(total), str(n_docs)]
        )

    def _deposit_variance(
        self, po_id: str, total: int, fees: int, period: str
    ) -> tuple[int, list[tuple[str, int]]]:
        """A paid payout whose bank deposit is booked at another amount: the bank took a fee
        off it (booked to bank charges) or the clerk keyed the deposit a few dollars off (on
        the bank and the clearing line alike). Either way the journal balances. Draws from
        the payout-variance stream only; records the `amount_mismatch` anomaly."""
        vr = self.variance_rng
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
        self._anomaly(
            _Anomaly(
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

    def _do_payout_done(self, ts: int, p: dict[str, Any]) -> None:
        if p["failed"]:
            self._event(
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
            self._event(
                ts, "payout.paid", p["final"], previous={"status": "in_transit"}, api_request=False
            )

    def _do_payout_failure(self, ts: int, p: dict[str, Any]) -> None:
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
            end_ts=self.end_ts,
        )
        self._write_obj("balance_transactions", txn)
        self.pool.append(_Pending(ts, p["txn"], p["amount"], 0, p["amount"], p["po"], ()))

    def _balance_event(self, day_ts: int) -> None:
        avail = sum(e.net for e in self.pool if e.available_on <= day_ts)
        pend = sum(e.net for e in self.pool if e.available_on > day_ts)
        obj = {
            "object": "balance",
            "available": [{"amount": avail, "currency": "usd", "source_types": {"card": avail}}],
            "livemode": False,
            "pending": [{"amount": pend, "currency": "usd", "source_types": {"card": pend}}],
        }
        self._event(day_ts, "balance.available", _dumps(obj), api_request=False)

    # ---------------------------------------------------------------- bad rows
    def _plan_bad_rows(self) -> list[tuple[int, str, str]]:
        """(day_index, file, kind) for every bad row: at least one of each kind per file."""
        plan: list[tuple[int, str, str]] = []
        kinds = ("amount", "date", "currency", "duplicate")
        for name, expected in (
            ("invoices.csv", 1.1),
            ("payments.csv", 1.1),
            ("gl_entries.csv", 0.0),
        ):
            n = max(4, round(self.spec.scale * expected * 0.0005))
            days = sorted(
                self.rng.sample(
                    range(min(3, self.ndays - 1), self.ndays),
                    min(n, self.ndays - min(3, self.ndays - 1)),
                )
            )
            plan.extend((d, name, kinds[i % 4]) for i, d in enumerate(days))
        return sorted(plan)

    def _inject_bad_row(self, name: str, kind: str) -> bool:
        """Write one bad row modelled on the file's last good row; False if none yet."""
        sink = {
            "invoices.csv": self.invoices,
            "payments.csv": self.payments,
            "gl_entries.csv": self.gl,
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
                row[0] = self._next_inv()
            elif name == "payments.csv":
                row[0] = self._next_pmt()
            else:
                row[0], row[1], row[6] = self._next_je(), "1", "0.00"
            if kind == "amount":
                row[amount_col] = "1,2O4.50"
                reason = "unparseable amount"
            elif kind == "date":
                row[date_col] = self.rng.choice(("2025-02-30", "31/12/2025", "n/a"))
                reason = "unparseable date"
            else:
                row[cur_col] = "XYZ"
                reason = "unknown currency"
        line = sink.write(row)
        self.bad_rows.append((name, line, reason))
        return True

    # ---------------------------------------------------------------- run
    def run(self) -> dict[str, int]:
        counts = self._day_counts()
        kinds = self._plan_kinds(counts)
        bad_plan = self._plan_bad_rows()
        bad_pos = 0
        slot = 0
        for di in range(self.ndays):
            day = self.start + dt.timedelta(days=di)
            day_ts, next_ts = epoch(day), epoch(day) + DAY
            self._walk_rates()
            self._balance_event(day_ts)
            self._payout(di, day_ts)
            items: list[tuple[int, int, str, Any]] = []
            while self.heap and self.heap[0].ts < next_ts:
                s = heapq.heappop(self.heap)
                items.append((s.ts, s.seq, s.kind, s.payload))
            times = sorted(
                self.rng.randrange(day_ts + 1000, next_ts - 1000) for _ in range(counts[di])
            )
            for t in times:
                items.append((t, 0, "sale", slot))
                slot += 1
            items.sort(key=lambda it: (it[0], it[1]))
            for ts, _, kind, payload in items:
                if kind == "sale":
                    sale_kind = kinds.get(payload, "normal")
                    plan = self.mess.plan(ts, self.end_ts) if sale_kind == "normal" else None
                    self._sale(ts, day_ts, next_ts, payload, sale_kind, plan)
                    self._other_erp(day)
                elif kind == "twin":
                    self._sale(ts, day_ts, next_ts, -1, "normal", payload["plan"])
                elif kind == "instalment":
                    self._instalment(ts, payload)
                elif kind == "refund":
                    self._do_refund(ts, payload)
                elif kind == "dispute":
                    self._do_dispute(ts, payload)
                elif kind == "dispute_close":
                    self._do_dispute_close(ts, payload)
                elif kind == "payout_done":
                    self._do_payout_done(ts, payload)
                elif kind == "payout_failure":
                    self._do_payout_failure(ts, payload)
            while bad_pos < len(bad_plan) and bad_plan[bad_pos][0] <= di:
                _, name, bad_kind = bad_plan[bad_pos]
                if not self._inject_bad_row(name, bad_kind):
                    break  # the file has no row yet: try again tomorrow
                bad_pos += 1
            if di % 30 == 0:
                log.debug("day %s: %d sales so far", day, slot)
        self._finish()
        return dict(self.counts)

    def _finish(self) -> None:
        with (self.out / "stripe" / "customers.jsonl").open("wb") as fh:
            for c in self.customers:
                fh.write(_dumps(customer_obj(c, c.next_invoice_sequence)) + b"\n")
        self.counts["customers"] = len(self.customers)
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
        for a in self.anomalies:
            self.extra.related_ids(a.object_id, a.exception_type, a.related)
        with CsvSink(
            self.out / "erp" / "gl_accounts.csv", ["account_number", "account_name", "role"]
        ) as accounts:
            for row in CHART_OF_ACCOUNTS:
                accounts.write(list(row))
        with CsvSink(
            self.out / "truth" / "anomalies.csv",
            [
                "object_id",
                "side",
                "exception_type",
                "disposition",
                "currency",
                "amount_minor",
                "period",
                "note",
                "difference_minor",
            ],
        ) as sink:
            for a in self.anomalies:
                sink.write(
                    [
                        a.object_id,
                        a.side,
                        a.exception_type,
                        DISPOSITIONS[a.exception_type],
                        a.currency,
                        str(a.amount_minor),
                        a.period,
                        a.note,
                        "" if a.difference_minor is None else str(a.difference_minor),
                    ]
                )
        with CsvSink(self.out / "truth" / "bad_rows.csv", ["file", "line", "reason"]) as sink:
            for name, line, reason in self.bad_rows:
                sink.write([name, str(line), reason])
        self._write_decisions()
        self.extra.close()
        self._write_manifest()

    def _decided_at(self, period_or_ts: str | int, rng: Random | None = None) -> str:
        first = (
            dt.date.fromisoformat(f"{period_or_ts}-01")
            if isinstance(period_or_ts, str)
            else day_of(period_or_ts).replace(day=1)
        )
        rng = rng or self.rng
        when = dt.datetime.combine(add_months(first, 1), dt.time(), dt.UTC) + dt.timedelta(
            days=rng.randint(1, 9),
            hours=rng.randint(8, 17),
            minutes=rng.randint(0, 59),
        )
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _write_decisions(self) -> None:
        last_period = (self.end - dt.timedelta(days=1)).strftime("%Y-%m")
        notes = {
            "timing_difference": "Receipt posted in the following period; clears next month.",
            "fee_variance": "Booked net of Stripe fees; fee journal posted to 6150.",
            "fx_variance": "Booked in USD at our bank rate; difference posted to FX gain/loss.",
            "rounding": "One cent rounding difference, written off.",
            "duplicate_charge": "Customer charged twice; refund issued and customer informed.",
            "missing_in_erp": "Receipt was never posted; entered it in the ERP.",
            "missing_in_stripe": "No Stripe charge behind this receipt; reversed the entry.",
            "amount_mismatch": "Keying error in the receipt amount; corrected.",
            "unrecorded_dispute": "Chargeback journal was missing; booked it to 6160.",
            "missing_deposit": "Deposit found on the bank statement; posted the journal.",
            "failed_payout": "Bank account closed; updated payout account, funds re-paid.",
            "duplicate_erp_entry": "Receipt entered twice; voided the later entry.",
        }
        with CsvSink(
            self.out / "decisions" / "exception_resolutions.csv",
            ["object_id", "exception_type", "disposition", "resolved_at", "resolved_by", "note"],
        ) as sink:
            for a in self.anomalies:
                if a.period >= last_period:
                    continue
                rng = self.variance_rng if a.own_stream else self.rng
                self.extra.resolved.write([a.object_id])
                sink.write(
                    [
                        a.object_id,
                        a.exception_type,
                        DISPOSITIONS[a.exception_type],
                        self._decided_at(a.period, rng),
                        rng.choice(_ANALYSTS),
                        a.resolution or notes[a.exception_type],
                    ]
                )
        with CsvSink(
            self.out / "decisions" / "match_decisions.csv",
            [
                "stripe_object_id",
                "erp_document_number",
                "erp_payment_number",
                "erp_journal_number",
                "decision",
                "decided_at",
                "decided_by",
            ],
        ) as sink:
            for decision, pairs in (("confirmed", self.confirmed), ("rejected", self.rejected)):
                for sid, doc, pmt, je, ts in pairs:
                    if self._period(ts) >= last_period:
                        continue
                    sink.write(
                        [
                            sid,
                            doc,
                            pmt,
                            je,
                            decision,
                            self._decided_at(ts),
                            self.rng.choice(_ANALYSTS),
                        ]
                    )

    def _write_manifest(self) -> None:
        manifest = {
            "format": FORMAT_VERSION,
            "seed": self.spec.seed,
            "scale": self.spec.scale,
            "start": self.start.isoformat(),
            "end": (self.end - dt.timedelta(days=1)).isoformat(),
            "end_exclusive": self.end.isoformat(),
            "end_ts": self.end_ts,
            "api_version": API_VERSION,
            "counts": dict(sorted(self.counts.items())),
            "anomalies": dict(sorted(Counter(a.exception_type for a in self.anomalies).items())),
            "bad_rows": len(self.bad_rows),
        }
        if not self.spec.mess.is_none:  # a world without mess keeps the manifest it always had
            manifest["mess"] = self.spec.mess.as_dict()
            manifest["mess_stories"] = dict(sorted(self.mess.counts.items()))
        (self.out / "manifest.json").write_text(
            json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
        )


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


def generate_world(spec: WorldSpec, out_dir: Path) -> WorldSummary:
    """Write the world of `spec` into `out_dir` (created if needed; files overwritten)."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    log.info("generating demo world seed=%d scale=%d into %s", spec.seed, spec.scale, out_dir)
    writer = _WorldWriter(spec, out_dir)
    counts = writer.run()
    anomalies = dict(sorted(Counter(a.exception_type for a in writer.anomalies).items()))
    elapsed = time.perf_counter() - t0
    log.info(
        "demo world written in %.1f s: %d charges, %d anomalies, %d bad rows",
        elapsed,
        counts.get("charges", 0),
        len(writer.anomalies),
        len(writer.bad_rows),
    )
    return WorldSummary(
        out_dir=out_dir,
        counts=counts,
        anomalies=anomalies,
        bad_rows=len(writer.bad_rows),
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
