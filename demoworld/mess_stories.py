"""The mess of real books, one knob at a time (the knobs: `demoworld/mess.py`).

`Mess` is consulted by the world's parts (`customers`, `sales`, `erp_books`, `payouts`,
`reversals`) wherever a phenomenon can happen: when a customer is created, a sale planned, a
reference written, an ERP value formatted, a payout made or a deposit booked. Each knob draws from a random stream of its own, and draws nothing
when it is off: with every knob at zero the writer makes exactly the world it made before the
knobs existed, and turning one knob on leaves the draws of every other knob as they were.

Every change a knob makes is written to `truth/mess.csv` as a true story (which knob, the
Stripe object, the ERP object, what was done), so that a benchmark can tell which phenomenon a
miss came from and the tests can check that each knob did what it says and only that.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import heapq
import itertools
import re
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from demoworld.csv_sinks import CsvSink
from demoworld.mess import MessSettings
from demoworld.stripe_objects import STATEMENT_DESCRIPTOR, Customer

DAY = 86_400

STORY_COLUMNS = ("knob", "stripe_object_id", "erp_object_id", "note")

_LEGAL_SUFFIXES = ("GmbH", "Inc.", "Ltd", "LLC", "S.A.", "B.V.", "K.K.", "Pty Ltd")
# how the same suffix is written elsewhere (or dropped: "")
_SUFFIX_FORMS: dict[str, tuple[str, ...]] = {
    "GmbH": ("", "GMBH", "G.m.b.H.", ", GmbH"),
    "Inc.": ("", "Inc", ", Inc.", "Incorporated", "INC"),
    "Ltd": ("", "Ltd.", "Limited", "LTD", ", Ltd"),
    "LLC": ("", "L.L.C.", ", LLC", "llc"),
    "S.A.": ("", "SA", "S.A", ", S.A."),
    "B.V.": ("", "BV", "B.V", ", B.V."),
    "K.K.": ("", "KK", "Kabushiki Kaisha"),
    "Pty Ltd": ("", "Pty. Ltd.", "PTY LTD", "Pty Limited"),
}
_TRADES = ("Analytics", "Labs", "Studio", "Consulting", "Systems", "Trading", "Partners", "Works")
_OTHER_MAILBOXES = ("billing", "accounts", "ap", "finance", "invoices", "accounts.payable")
_OTHER_DOMAINS = ("example.net", "billing.example.com", "corp.example.org", "mail.example.co.uk")
_META_KEYS = ("invoice", "inv_no", "erp_invoice", "reference", "Invoice Number", "invoice_ref")
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DOC_RE = re.compile(r"\b(INV|CM)-(\d+)\b")


def sub_rng(seed: int, purpose: str) -> Random:
    digest = hashlib.sha256(f"{seed}:{purpose}".encode()).digest()
    return Random(int.from_bytes(digest[:8], "big"))


def _add_month(ts: int) -> int:
    day = dt.datetime.fromtimestamp(ts, dt.UTC).date()
    month0 = day.month  # the next month, 0-based
    year, month = day.year + month0 // 12, month0 % 12 + 1
    nxt = dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    return calendar.timegm(nxt.timetuple()) + ts % DAY


def _month_key(ts: int) -> tuple[int, int]:
    day = dt.datetime.fromtimestamp(ts, dt.UTC).date()
    return day.year, day.month


@dataclass(slots=True)
class SalePlan:
    """What the mess makes of one sale (`sales.Sales.sale` follows it)."""

    style: str  # renewal, subscription, multi_invoice, instalments, twin, twin_second, short_over
    customer: Customer | None = None
    amount: int | None = None
    n_docs: int = 1
    one_receipt: bool = False
    receipt_on_first_doc: bool = True
    memo_lists_docs: bool = False
    instalment_offsets: tuple[int, ...] = ()  # seconds after the first charge, one a later charge
    twin_ts: int | None = None
    ambiguous: bool = False  # nothing on either side tells the twins apart
    pay_day: dt.date | None = None
    doc_date: dt.date | None = None
    invoice_delta: int = 0  # invoice amount minus receipt amount (short > 0, over < 0)
    partner: tuple[str, str] | None = None  # the first twin's (charge id, document)


@dataclass(order=True, slots=True)
class _Subscription:
    due: int
    seq: int
    customer: Customer = field(compare=False)
    amount: int = field(compare=False)
    renewals: int = field(default=0, compare=False)


class _Knobs:
    """The knobs' settings, their random streams and the story sink: what every kind of mess
    shares."""

    def __init__(self, settings: MessSettings, seed: int, out_dir: Path) -> None:
        self.settings = settings
        self._rngs = {name: sub_rng(seed, f"mess:{name}") for name in settings.knob_names()}
        self.stories = CsvSink(out_dir / "truth" / "mess.csv", STORY_COLUMNS)
        self.counts: Counter[str] = Counter()
        self._recent: deque[tuple[str, str]] = deque(maxlen=64)  # (charge id, customer id)
        self._subscriptions: list[_Subscription] = []
        self._seq = 0
        self.last_payout: tuple[int, int, str] | None = None  # (day index, amount, payout id)

    # ------------------------------------------------------------ basics
    def rate(self, knob: str) -> float:
        value: float = getattr(self.settings, knob)
        return value

    def hit(self, knob: str) -> bool:
        """One draw of the knob's own stream: True with the knob's probability; no draw when off."""
        p = self.rate(knob)
        return p > 0 and self._rngs[knob].random() < p

    def rng(self, knob: str) -> Random:
        return self._rngs[knob]

    def story(self, knob: str, stripe_id: str, erp_id: str, note: str) -> None:
        self.stories.write([knob, stripe_id, erp_id, note])
        self.counts[knob] += 1

    def close(self) -> None:
        self.stories.close()

    def note_charge(self, charge_id: str, customer_id: str) -> None:
        """A charge with an ERP record: a candidate for a reference that names the wrong charge."""
        if self.rate("wrong_refs"):
            self._recent.append((charge_id, customer_id))


class _MasterDataMess(_Knobs):
    """Customers: company names, ERP master data that differs from Stripe's."""

    def customer(self, c: Customer) -> None:
        """Company names, and ERP master data that differs from Stripe's (before c is written)."""
        if self.hit("company_customers"):
            r = self.rng("company_customers")
            last = c.name.split(" ", 1)[1]
            c.name = f"{last} {r.choice(_TRADES)} {r.choice(_LEGAL_SUFFIXES)}"
            c.erp_name = c.name
            self.story("company_customers", c.id, c.erp_number, f"a company: {c.name!r}")
        if self.hit("name_variants"):
            before = c.erp_name
            c.erp_name = self._name_variant(c.name, self.rng("name_variants"))
            if c.erp_name != before:
                self.story(
                    "name_variants", c.id, c.erp_number, f"ERP name {c.erp_name!r}, Stripe {c.name!r}"
                )
        if self.hit("erp_email_missing"):
            c.erp_email = ""
            self.story("erp_email_missing", c.id, c.erp_number, f"no ERP e-mail; Stripe {c.email}")
            return
        if self.hit("erp_email_other"):
            r = self.rng("erp_email_other")
            mailbox = r.choice(_OTHER_MAILBOXES)
            domain = c.email.split("@", 1)[1] if r.random() < 0.5 else r.choice(_OTHER_DOMAINS)
            c.erp_email = f"{mailbox}@{domain}"
            self.story(
                "erp_email_other", c.id, c.erp_number, f"ERP e-mail {c.erp_email}; Stripe {c.email}"
            )
        if self.hit("erp_email_upper"):
            c.erp_email = c.erp_email.upper()
            self.story("erp_email_upper", c.id, c.erp_number, f"ERP e-mail {c.erp_email}")

    @staticmethod
    def _name_variant(name: str, r: Random) -> str:
        suffix = next((s for s in _LEGAL_SUFFIXES if name.endswith(" " + s)), None)
        if suffix is not None:  # a company
            base = name[: -len(suffix) - 1]
            kind = r.choice(("suffix", "suffix", "upper", "lower", "punct"))
            if kind == "suffix":
                form = r.choice(_SUFFIX_FORMS[suffix])
                return base if not form else (f"{base}{form}" if form[0] == "," else f"{base} {form}")
            if kind == "upper":
                return name.upper()
            if kind == "lower":
                return name.lower()
            return name.replace(" ", ", ", 1) if r.random() < 0.5 else name.replace(".", "")
        first, _, last = name.partition(" ")
        kind = r.choice(("last_first", "upper", "lower", "initial", "initial_last", "punct"))
        if kind == "last_first":
            return f"{last}, {first}"
        if kind == "upper":
            return name.upper()
        if kind == "lower":
            return name.lower()
        if kind == "initial":
            return f"{first[0]}. {last}"
        if kind == "initial_last":
            return f"{last} {first[0]}."
        stripped = name.replace("'", "").replace("-", " ")
        return stripped if stripped != name else f"{first}  {last}."


class _SaleMess(_Knobs):
    """Sales: the plans that reshape a sale (subscriptions, several invoices, instalments,
    twins, short and over payments)."""

    def plan(self, ts: int, end_ts: int) -> SalePlan | None:
        """The shape of a normal sale at `ts` (None: a plain one). Every structural knob draws
        once per normal sale, in a fixed order, whether or not another one wins."""
        multi = self.hit("multi_invoice")
        inst = self.hit("instalments")
        twin = self.hit("twin_invoices")
        short = self.hit("short_over_payment")
        sub = self.hit("subscriptions")
        renewal = self._due_renewal(ts)
        if renewal is not None:
            return renewal
        if multi:
            r = self.rng("multi_invoice")
            return SalePlan(
                "multi_invoice",
                n_docs=r.choice((2, 2, 3, 4)),
                one_receipt=self.hit("multi_invoice_one_receipt"),
                receipt_on_first_doc=r.random() < 0.5,
                memo_lists_docs=r.random() < 0.5,
            )
        if inst:
            r = self.rng("instalments")
            offsets: list[int] = []
            at = 0
            for _ in range(r.choice((1, 1, 2))):
                at += r.randint(7, 31) * DAY + r.randint(-3600, 3600)
                if ts + at < end_ts:
                    offsets.append(at)
            if offsets:
                return SalePlan("instalments", instalment_offsets=tuple(offsets))
        if twin:
            r = self.rng("twin_invoices")
            t2 = ts + r.randint(1, 4) * DAY + r.randint(0, 3600)
            ambiguous = r.random() < 0.5
            if t2 < end_ts:
                same_month = _month_key(t2) == _month_key(ts)
                return SalePlan(
                    "twin",
                    twin_ts=t2,
                    ambiguous=ambiguous and same_month,
                    pay_day=dt.datetime.fromtimestamp(t2, dt.UTC).date()
                    if ambiguous and same_month
                    else None,
                )
        if short:
            r = self.rng("short_over_payment")
            return SalePlan("short_over", invoice_delta=1 if r.random() < 0.6 else -1)
        if sub:
            return SalePlan("subscription")
        return None

    def invoice_delta(self, plan: SalePlan, amount: int, granule: int) -> int:
        """A short (> 0) or over (< 0) payment's difference: 2-20 % of the amount, whole units."""
        r = self.rng("short_over_payment")
        delta = max(granule, round(amount * r.uniform(0.02, 0.2) / granule) * granule)
        if plan.invoice_delta < 0:
            delta = -min(delta, amount - granule)
        return delta

    def split(self, knob: str, amount: int, n: int, granule: int) -> list[int]:
        """`amount` in n positive parts (multiples of `granule`), from the knob's stream."""
        r = self.rng(knob)
        if r.random() < 0.3 and amount % (n * granule) == 0:
            return [amount // n] * n  # equal instalments / invoices
        cuts = sorted(r.sample(range(1, amount // granule), n - 1)) if amount // granule > n else []
        if len(cuts) != n - 1:
            return [amount]
        points = [0, *(c * granule for c in cuts), amount]
        return [b - a for a, b in itertools.pairwise(points)]

    def subscribe(self, c: Customer, amount: int, ts: int) -> None:
        self._seq += 1
        heapq.heappush(self._subscriptions, _Subscription(_add_month(ts), self._seq, c, amount))

    def _due_renewal(self, ts: int) -> SalePlan | None:
        if not self._subscriptions or self._subscriptions[0].due > ts:
            return None
        sub = heapq.heappop(self._subscriptions)
        sub.renewals += 1
        if self.rng("subscriptions").random() >= 0.1:  # a tenth of subscribers churn each month
            self._seq += 1
            heapq.heappush(
                self._subscriptions,
                _Subscription(_add_month(sub.due), self._seq, sub.customer, sub.amount, sub.renewals),
            )
        return SalePlan("renewal", customer=sub.customer, amount=sub.amount, n_docs=sub.renewals)


class _ReferenceMess(_Knobs):
    """References: how a charge names its invoice and the ERP names the charge, in other
    forms or wrong."""

    def _doc_form(self, doc_text: str, r: Random) -> str:
        def form(m: re.Match[str]) -> str:
            prefix, number = m.group(1), m.group(2)
            if prefix == "CM":
                return r.choice((f"cm {number}", f"Credit memo #{number}", f"cm-{number}"))
            return r.choice(
                (
                    f"inv {number}",
                    f"Invoice #{number}",
                    number,
                    f"inv-{number}",
                    f"INV{number}",
                    f"Inv. {number}",
                    f"invoice no. {number}",
                )
            )

        return _DOC_RE.sub(form, doc_text)

    @staticmethod
    def _typo_number(text: str, r: Random) -> str:
        """One keying error in the first number of 4+ digits in `text` (a digit changed or two
        adjacent different ones swapped)."""
        m = re.search(r"\d{4,}", text)
        if m is None:
            return text
        digits = list(m.group(0))
        swaps = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]
        if swaps and r.random() < 0.5:
            i = r.choice(swaps)
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
        else:
            i = r.randrange(1, len(digits))
            digits[i] = r.choice([d for d in "0123456789" if d != digits[i]])
        return text[: m.start()] + "".join(digits) + text[m.end() :]

    @staticmethod
    def _typo_id(stripe_id: str, r: Random) -> str:
        prefix, _, body = stripe_id.partition("_")
        i = r.randrange(len(body))
        body = body[:i] + r.choice([ch for ch in _ID_ALPHABET if ch != body[i]]) + body[i + 1 :]
        return f"{prefix}_{body}"

    def stripe_refs(
        self,
        metadata: dict[str, str],
        description: str | None,
        invoice_meta: dict[str, str] | None,
    ) -> tuple[dict[str, str], str | None, dict[str, str] | None, list[tuple[str, str]]]:
        """Invoice numbers as the Stripe side writes them: other forms, other metadata keys,
        typos. Returns the new values and the stories (knob, note) to tell once the charge
        has its id."""
        notes: list[tuple[str, str]] = []
        if "invoice_number" in metadata and self.hit("ref_forms"):
            r = self.rng("ref_forms")
            value = metadata["invoice_number"]
            key = r.choice(_META_KEYS) if r.random() < 0.5 else "invoice_number"
            new_value = self._doc_form(value, r) if key == "invoice_number" or r.random() < 0.6 else value
            if r.random() < 0.3:
                new_value = new_value.lower()
            metadata = {key: new_value}
            notes.append(("ref_forms", f"metadata {key}={new_value!r} for {value}"))
        if description and _DOC_RE.search(description) and self.hit("ref_forms"):
            r = self.rng("ref_forms")
            new = self._doc_form(description, r)
            new = new.lower() if r.random() < 0.3 else new
            notes.append(("ref_forms", f"description {new!r} for {description!r}"))
            description = new
        if invoice_meta and self.hit("ref_forms"):
            r = self.rng("ref_forms")
            ((key, value),) = invoice_meta.items()
            new_value = self._doc_form(value, r)
            invoice_meta = {r.choice(_META_KEYS) if r.random() < 0.5 else key: new_value}
            notes.append(("ref_forms", f"Stripe invoice metadata {invoice_meta} for {value}"))
        text = next(iter(metadata.values()), "") if metadata else (description or "")
        if re.search(r"\d{4,}", text) and self.hit("wrong_refs"):
            typo = self._typo_number(text, self.rng("wrong_refs"))
            if metadata:
                ((key, _),) = metadata.items()
                metadata = {key: typo}
                notes.append(("wrong_refs", f"metadata {key}={typo!r} (a typo) for {text!r}"))
            else:
                description = typo
                notes.append(("wrong_refs", f"description {typo!r} (a typo) for {text!r}"))
        return metadata, description, invoice_meta, notes

    def erp_reference(self, field: str, text: str, stripe_id: str, erp_id: str, customer_id: str) -> str:
        """A reference the ERP wrote (a payment's memo, an invoice's external_reference) as
        clerks write it: another form, a typo, another customer's charge."""
        if not text:
            return text
        is_id = text.startswith(("ch_", "pi_", "re_"))
        is_doc = _DOC_RE.search(text) is not None
        if not (is_id or is_doc):
            return text
        original = text
        if self.hit("wrong_refs"):
            r = self.rng("wrong_refs")
            others = [ch for ch, cus in self._recent if cus != customer_id and ch != stripe_id]
            if is_id and text.startswith("ch_") and others and r.random() < 0.5:
                text = r.choice(others)
                what = "another customer's charge"
            elif is_id:
                text = self._typo_id(text, r)
                what = "a typo"
            else:
                text = self._typo_number(text, r)
                what = "a typo"
            self.story("wrong_refs", stripe_id, erp_id, f"{field} {text!r} ({what}) for {original!r}")
        if self.hit("ref_forms"):
            r = self.rng("ref_forms")
            before = text
            if is_id:
                text = r.choice(
                    (f"Stripe {text}", f"Card payment {text}", f"{text} / card", f"ref: {text}", f" {text} ")
                )
            else:
                text = self._doc_form(text, r)
                if r.random() < 0.3:
                    text = text.lower()
            if text != before:
                self.story("ref_forms", stripe_id, erp_id, f"{field} {text!r} for {before!r}")
        return text

    def memo_listing(self, docs: Sequence[str]) -> str:
        r = self.rng("multi_invoice")
        return r.choice((", ".join(docs), " / ".join(docs), "Invoices " + " ".join(docs)))


class _ExportMess(_Knobs):
    """ERP values written as real exports write them."""

    def _amount_form(self, text: str, r: Random) -> str:
        options: list[str] = []
        if "." in text:
            whole, frac = text.split(".")
            trimmed = frac.rstrip("0")
            if trimmed != frac:
                options.append(f"{whole}.{trimmed}")  # 29.5, or 29. when nothing is left
                if not trimmed:
                    options += [whole, f"{whole}.0"]
        if not text.startswith("-"):
            options.append(f"+{text}")
        options.append(f" {text} ")
        return r.choice(options)

    def export_row(self, file: str, row: list[str], key: str) -> None:
        """Rewrite, in place, a share of an ERP row's amounts, dates and payment method as
        exports write them (`29.`, `+29.00`, ` 29.00 `, `2025-01-31T00:00:00`, ` stripe `)."""
        if not self.hit("erp_formats"):
            return
        r = self.rng("erp_formats")
        amounts, dates, method = {
            "invoices.csv": ((8,), (5, 6), None),
            "payments.csv": ((4,), (2,), 5),
            "gl_entries.csv": ((5, 6), (2,), None),
        }[file]
        changed: list[str] = []
        while not changed:
            for i in amounts:
                if r.random() < 0.6:
                    row[i] = self._amount_form(row[i], r)
                    changed.append(f"amount {row[i]!r}")
            for i in dates:
                if r.random() < 0.4:
                    row[i] = f"{row[i]}T00:00:00"
                    changed.append(f"date {row[i]!r}")
            if method is not None and row[method].lower() == "stripe" and r.random() < 0.4:
                row[method] = r.choice((" stripe ", "Stripe ", " STRIPE", "stripe "))
                changed.append(f"payment_method {row[method]!r}")
        self.story("erp_formats", "", key, f"{file}: " + "; ".join(changed))


class _BankMess(_Knobs):
    """Payouts, bank deposits and credit memos."""

    def equal_payout(
        self, day_index: int, nets: Sequence[int], total: int
    ) -> tuple[list[int], str] | None:
        """Indices of the ready balance transactions to pay out so that this payout equals the
        previous day's (the others wait for the next payout), with that payout's id; None
        when the knob does not fire or no subset sums to it."""
        if not self.hit("equal_payouts"):
            return None
        last = self.last_payout
        if last is None or last[0] != day_index - 1 or last[1] >= total:
            return None
        chosen = _exact_subset(nets, last[1], self.rng("equal_payouts"))
        return (chosen, last[2]) if chosen is not None else None

    def deposit_memo(self, memo: str, po_id: str, *, keep_id: bool) -> tuple[str, str]:
        """A bank deposit's memo in a bank's format (ACH addenda with a trace number, the
        statement descriptor, upper case, no id at all), and the story ('' when unchanged).
        `keep_id`: only forms that still name the payout (the deposit must stay findable)."""
        if not self.hit("bank_memos"):
            return memo, ""
        r = self.rng("bank_memos")
        trace = "".join(r.choices("0123456789", k=15))
        upper = po_id.upper()
        with_id = (
            f"STRIPE PAYOUT {upper}",
            f"ACH CREDIT STRIPE TRANSFER IND ID:{upper} TRACE#:{trace}",
            f"{STATEMENT_DESCRIPTOR} STRIPE {upper}",
        )
        without = (
            f"ACH CREDIT STRIPE TRANSFER TRACE#:{trace}",
            f"ORIG CO NAME:STRIPE ORIG ID:1800948598 CO ENTRY DESCR:TRANSFER SEC:CCD "
            f"TRACE#:{trace} IND NAME:{STATEMENT_DESCRIPTOR}",
            f"STRIPE TRANSFER {STATEMENT_DESCRIPTOR}",
            "DEPOSIT",
            "",
        )
        new = r.choice(with_id if keep_id else with_id + without)
        return new, f"deposit memo {new!r} instead of {memo!r}"

    def deposit_day(
        self, arrival: dt.date, posted: dt.date, last_ok: dt.date
    ) -> tuple[dt.date, str]:
        """A deposit posted 2-6 days after the payout arrived (never past `last_ok`), and the
        story ('' when unchanged)."""
        if not self.hit("deposit_lag"):
            return posted, ""
        later = arrival + dt.timedelta(days=self.rng("deposit_lag").randint(2, 6))
        if later > last_ok or later <= posted:
            return posted, ""
        return later, f"deposit posted {later.isoformat()}, payout arrived {arrival.isoformat()}"

    # ------------------------------------------------------------ refunds
    def credit_memo_date(
        self, day: dt.date, first_ok: dt.date, last_ok: dt.date, re_id: str, cm: str
    ) -> dt.date:
        if not self.hit("credit_memo_dating"):
            return day
        r = self.rng("credit_memo_dating")
        shift = r.choice((-1, 1)) * r.randint(1, 10)
        dated = min(max(day + dt.timedelta(days=shift), first_ok), last_ok)
        if dated == day:
            return day
        self.story(
            "credit_memo_dating", re_id, cm, f"credit memo dated {dated.isoformat()}, refund {day.isoformat()}"
        )
        return dated


class Mess(_MasterDataMess, _SaleMess, _ReferenceMess, _ExportMess, _BankMess):
    """The knobs of one generation run, with their random streams and the story sink."""


def _exact_subset(nets: Sequence[int], target: int, r: Random) -> list[int] | None:
    """Indices of `nets` summing exactly to `target`: every non-positive one, a greedy choice of
    the larger ones and an exact subset-sum (a bitset) over the 40 smallest for the rest."""
    negative = [i for i, n in enumerate(nets) if n <= 0]
    need = target - sum(nets[i] for i in negative)
    positive = sorted((i for i, n in enumerate(nets) if n > 0), key=lambda i: nets[i])
    if need <= 0 or sum(nets[i] for i in positive) < need:
        return None
    reserve, large = positive[:40], positive[40:]
    reserve_total = sum(nets[i] for i in reserve)
    r.shuffle(large)
    taken: list[int] = []
    running = 0
    for i in large:
        if running + nets[i] <= need - reserve_total // 2:
            taken.append(i)
            running += nets[i]
    rest = need - running
    if rest < 0 or rest > reserve_total:
        return None
    mask = (1 << (rest + 1)) - 1
    reach = [1]
    for i in reserve:
        reach.append((reach[-1] | (reach[-1] << nets[i])) & mask)
    if not (reach[-1] >> rest) & 1:
        return None
    for k in range(len(reserve) - 1, -1, -1):
        if not (reach[k] >> rest) & 1:
            taken.append(reserve[k])
            rest -= nets[reserve[k]]
    assert rest == 0
    return sorted(negative + taken)
