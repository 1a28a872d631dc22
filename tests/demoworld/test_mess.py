"""The mess knobs of the demo world: each changes what it says, tells it in truth/mess.csv, and
changes nothing else; the presets stay deterministic and keep the world's own invariants."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from core.errors import UserError
from demoworld.mess import MESSY, NONE, PRESETS, TIDY, MessSettings, resolve_mess
from demoworld.world import WorldSpec, generate_world

SEED, SCALE, MONTHS = 5, 500, 3
EXPONENT = {"usd": 2, "eur": 2, "gbp": 2, "cad": 2, "jpy": 0, "kwd": 3}
SUFFIXES = ("GmbH", "Inc.", "Ltd", "LLC", "S.A.", "B.V.", "K.K.", "Pty Ltd")


def _day(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date()


def _minor(amount: str, currency: str) -> int:
    return int(Decimal(amount.strip()).scaleb(EXPONENT[currency.strip().lower()]))


def _date(text: str) -> dt.date:
    text = text.strip()
    return dt.date.fromisoformat(text[:10] if text.endswith("T00:00:00") else text)


@dataclass
class W:
    """A generated world read back for the checks."""

    root: Path

    def csv(self, *parts: str) -> list[dict[str, str]]:
        with self.root.joinpath(*parts).open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def lines(self, *parts: str) -> Iterator[tuple[int, dict[str, str]]]:
        with self.root.joinpath(*parts).open(newline="", encoding="utf-8") as fh:
            yield from enumerate(csv.DictReader(fh), start=2)

    def jsonl(self, name: str) -> list[dict[str, Any]]:
        with (self.root / "stripe" / f"{name}.jsonl").open("rb") as fh:
            return [json.loads(line) for line in fh]

    def hashes(self) -> dict[str, str]:
        return {
            str(p.relative_to(self.root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    @cached_property
    def stories(self) -> list[dict[str, str]]:
        return self.csv("truth", "mess.csv")

    def stories_of(self, knob: str) -> list[dict[str, str]]:
        return [s for s in self.stories if s["knob"] == knob]

    @cached_property
    def charges(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.jsonl("charges")}

    @cached_property
    def customers(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.jsonl("customers")}

    @cached_property
    def bad_lines(self) -> dict[str, set[int]]:
        out: dict[str, set[int]] = defaultdict(set)
        for row in self.csv("truth", "bad_rows.csv"):
            out[row["file"]].add(int(row["line"]))
        return out

    def erp(self, name: str) -> list[dict[str, str]]:
        bad = self.bad_lines[f"{name}.csv"]
        return [row for line, row in self.lines("erp", f"{name}.csv") if line not in bad]

    @cached_property
    def invoices(self) -> dict[str, dict[str, str]]:
        return {i["document_number"]: i for i in self.erp("invoices")}

    @cached_property
    def payments(self) -> dict[str, dict[str, str]]:
        return {p["payment_number"]: p for p in self.erp("payments")}

    @cached_property
    def matches(self) -> list[dict[str, str]]:
        return self.csv("truth", "matches.csv")

    @cached_property
    def payouts(self) -> dict[str, dict[str, Any]]:
        return {p["id"]: p for p in self.jsonl("payouts")}


def _generate(root: Path, mess: MessSettings) -> W:
    generate_world(WorldSpec(seed=SEED, scale=SCALE, months=MONTHS, mess=mess), root)
    return W(root)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> W:
    return _generate(tmp_path_factory.mktemp("none"), NONE)


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> W:
    root = tmp_path_factory.mktemp("messy")
    generate_world(WorldSpec(seed=SEED, scale=2000, months=MONTHS, mess=MESSY), root)
    return W(root)


_worlds: dict[str, W] = {}


@pytest.fixture(scope="module")
def knob_world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """knob_world(name, rate): a world with that knob alone on (made once per module)."""

    def make(name: str, rate: float = 0.5, **others: float) -> W:
        key = f"{name}={rate}," + ",".join(f"{k}={v}" for k, v in sorted(others.items()))
        if key not in _worlds:
            mess = NONE.with_knobs({name: rate, **others})
            _worlds[key] = _generate(tmp_path_factory.mktemp(name), mess)
        return _worlds[key]

    return make


def _changed_columns(a: W, b: W, *parts: str) -> set[str]:
    """The columns in which two CSV files of the same rows differ (their row counts must agree)."""
    rows_a, rows_b = a.csv(*parts), b.csv(*parts)
    assert len(rows_a) == len(rows_b), parts
    return {k for ra, rb in zip(rows_a, rows_b, strict=True) for k in ra if ra[k] != rb[k]}


def _changed_files(a: W, b: W) -> set[str]:
    ha, hb = a.hashes(), b.hashes()
    assert ha.keys() == hb.keys()
    return {name for name in ha if ha[name] != hb[name]}


# ------------------------------------------------------------------ settings
def test_presets_and_overrides() -> None:
    assert NONE.is_none and not TIDY.is_none and not MESSY.is_none
    for name in MessSettings.knob_names():
        assert getattr(TIDY, name) <= getattr(MESSY, name), name
        assert getattr(MESSY, name) > 0, name
    tuned = resolve_mess("tidy", ["wrong_refs=0.2"])
    assert tuned.wrong_refs == 0.2 and tuned.subscriptions == TIDY.subscriptions
    assert tuned.label("tidy").startswith("tidy-") and TIDY.label("tidy") == "tidy"
    with pytest.raises(UserError, match="unknown mess knob"):
        resolve_mess("tidy", ["nope=0.1"])
    with pytest.raises(UserError, match="between 0 and 1"):
        resolve_mess("none", ["wrong_refs=2"])
    with pytest.raises(UserError, match="name=value"):
        resolve_mess("none", ["wrong_refs"])
    with pytest.raises(UserError, match="choose one of"):
        resolve_mess("chaos")
    assert set(PRESETS) == {"none", "tidy", "messy"}


# ------------------------------------------------------------------ determinism
def test_same_seed_and_knobs_give_the_same_bytes(messy: W, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_world(WorldSpec(seed=SEED, scale=2000, months=MONTHS, mess=MESSY), again)
    assert W(again).hashes() == messy.hashes()



def test_another_knob_value_gives_another_world(messy: W, tmp_path: Path) -> None:
    other = tmp_path / "other"
    mess = MESSY.with_knobs({"wrong_refs": 0.3})
    generate_world(WorldSpec(seed=SEED, scale=2000, months=MONTHS, mess=mess), other)
    assert W(other).hashes() != messy.hashes()


def test_none_writes_no_story_and_no_mess_in_the_manifest(plain: W) -> None:
    assert plain.stories == []
    assert "mess" not in json.loads((plain.root / "manifest.json").read_text())


def test_a_sub_knob_alone_changes_nothing(plain: W, knob_world: Any) -> None:
    """multi_invoice_one_receipt shapes multi-invoice sales only: alone it has none to shape."""
    assert _changed_files(plain, knob_world("multi_invoice_one_receipt", 1.0)) == {"manifest.json"}


# ------------------------------------------------------------------ knobs that touch one column
# knob -> the files it may change and, for CSV files, the columns
ONLY: dict[str, dict[str, set[str] | None]] = {
    "erp_email_missing": {"erp/invoices.csv": {"customer_email"}},
    "erp_email_other": {"erp/invoices.csv": {"customer_email"}},
    "erp_email_upper": {"erp/invoices.csv": {"customer_email"}},
    "name_variants": {"erp/invoices.csv": {"customer_name"}},
    "credit_memo_dating": {"erp/invoices.csv": {"document_date", "due_date"}},
    "short_over_payment": {"erp/invoices.csv": {"amount", "status"}},
    "erp_formats": {
        "erp/invoices.csv": {"amount", "document_date", "due_date"},
        "erp/payments.csv": {"amount", "payment_date", "payment_method"},
        "erp/gl_entries.csv": {"debit", "credit", "posting_date"},
    },
    "bank_memos": {"erp/gl_entries.csv": {"memo"}},
    "deposit_lag": {"erp/gl_entries.csv": {"posting_date"}},
    "wrong_refs": {
        "erp/invoices.csv": {"external_reference"},
        "erp/payments.csv": {"memo"},
        # the charge's metadata or description, everywhere the charge is written
        "stripe/charges.jsonl": None,
        "stripe/balance_transactions.jsonl": None,
        "stripe/payment_intents.jsonl": None,
        "stripe/events.jsonl": None,
    },
    "ref_forms": {
        "erp/invoices.csv": {"external_reference"},
        "erp/payments.csv": {"memo"},
        "stripe/charges.jsonl": None,
        "stripe/balance_transactions.jsonl": None,
        "stripe/payment_intents.jsonl": None,
        "stripe/invoices.jsonl": None,
        "stripe/events.jsonl": None,
    },
}


@pytest.mark.parametrize("knob", sorted(ONLY))
def test_a_knob_changes_only_its_own_columns(plain: W, knob_world: Any, knob: str) -> None:
    world = knob_world(knob)
    allowed = ONLY[knob]
    changed = _changed_files(plain, world) - {"truth/mess.csv", "manifest.json"}
    assert changed, f"{knob} changed nothing"
    assert changed <= set(allowed), changed - set(allowed)
    for name in changed:
        columns = allowed[name]
        if columns is not None:
            assert _changed_columns(plain, world, *name.split("/")) <= columns, name
    assert {s["knob"] for s in world.stories} == {knob}


def test_stories_are_counted_in_the_manifest(knob_world: Any) -> None:
    world = knob_world("bank_memos")
    manifest = json.loads((world.root / "manifest.json").read_text())
    assert manifest["mess"]["bank_memos"] == 0.5
    assert manifest["mess_stories"] == {"bank_memos": len(world.stories_of("bank_memos"))}


# ------------------------------------------------------------------ what each knob makes
def test_erp_emails_missing_other_and_upper(knob_world: Any) -> None:
    for knob in ("erp_email_missing", "erp_email_other", "erp_email_upper"):
        world = knob_world(knob)
        told = {s["erp_object_id"] for s in world.stories_of(knob)}
        assert told
        by_customer = {c["metadata"].get("erp_customer_number"): c for c in world.customers.values()}
        for inv in world.invoices.values():
            if inv["customer_number"] not in told:
                continue
            stripe_email = next(
                (c["email"] for n, c in by_customer.items() if n == inv["customer_number"]), None
            )
            if knob == "erp_email_missing":
                assert inv["customer_email"] == ""
            elif knob == "erp_email_other":
                assert inv["customer_email"].lower() != (stripe_email or "").lower()
                assert "@" in inv["customer_email"]
            else:
                assert inv["customer_email"] == inv["customer_email"].upper() != ""


def test_names_are_written_differently_on_each_side(knob_world: Any) -> None:
    world = knob_world("name_variants", 0.8, company_customers=0.5)
    stripe_names = {c["id"]: c["name"] for c in world.customers.values()}
    variants = world.stories_of("name_variants")
    companies = {s["stripe_object_id"] for s in world.stories_of("company_customers")}
    assert variants and companies
    kinds = Counter()
    for s in variants:
        erp_name = re.search(r"ERP name '(.*)', Stripe", s["note"].replace('"', "'"))
        assert erp_name, s
        name = stripe_names[s["stripe_object_id"]]
        assert erp_name.group(1) != name
        if "," in erp_name.group(1):
            kinds["comma"] += 1
        if erp_name.group(1) == name.upper():
            kinds["upper"] += 1
    assert kinds["comma"] and kinds["upper"], kinds
    for cus in companies:
        assert stripe_names[cus].endswith(SUFFIXES), stripe_names[cus]


def test_short_and_over_payments(plain: W, knob_world: Any) -> None:
    world = knob_world("short_over_payment")
    stories = world.stories_of("short_over_payment")
    assert {"short", "over"} <= {s["note"].split(" ")[0] for s in stories}
    paid_by = {m["erp_document_number"]: m for m in world.matches}
    for s in stories:
        inv = world.invoices[s["erp_object_id"]]
        match = paid_by[inv["document_number"]]
        pay = world.payments[match["erp_payment_number"]]
        charge = world.charges[match["stripe_object_id"]]
        invoiced, received = _minor(inv["amount"], inv["currency"]), _minor(pay["amount"], pay["currency"])
        assert received == charge["amount"] != invoiced
        assert inv["status"] == ("open" if invoiced > received else "paid")
    assert world.matches == plain.matches  # the same pairs: a short payment is still a match


def test_references_in_other_forms_still_name_their_invoice(plain: W, knob_world: Any) -> None:
    world = knob_world("ref_forms", 0.8)
    assert world.matches == plain.matches
    forms = Counter()
    for s in world.stories_of("ref_forms"):
        doc = s["erp_object_id"]
        if doc.startswith(("INV-", "CM-")) and s["note"].startswith("metadata"):
            digits = doc.split("-")[1]
            meta = world.charges[s["stripe_object_id"]]["metadata"]
            assert any(digits in v for v in meta.values()), (meta, doc)
            forms["metadata key " + next(iter(meta))] += 1
        if "memo" in s["note"]:
            forms["memo"] += 1
    assert forms["memo"] and len([f for f in forms if f.startswith("metadata key")]) > 2, forms


def test_wrong_references_are_typos_or_another_customers_charge(
    plain: W, knob_world: Any
) -> None:
    world = knob_world("wrong_refs", 0.5)
    assert world.matches == plain.matches
    stories = world.stories_of("wrong_refs")
    kinds = Counter(re.search(r"\((a typo|another customer's charge)\)", s["note"]).group(1) for s in stories)  # type: ignore[union-attr]
    assert kinds["a typo"] and kinds["another customer's charge"], kinds
    for s in stories:
        if "another customer's charge" not in s["note"]:
            continue
        named = re.search(r"'(ch_\w+)' \(another", s["note"]).group(1)  # type: ignore[union-attr]
        assert named != s["stripe_object_id"]
        assert world.charges[named]["customer"] != world.charges[s["stripe_object_id"]]["customer"]


def test_erp_values_as_exports_write_them_parse_to_the_same_values(
    plain: W, knob_world: Any
) -> None:
    world = knob_world("erp_formats", 0.5)
    seen = Counter()
    for name, amount_cols, date_cols in (
        ("invoices", ("amount",), ("document_date", "due_date")),
        ("payments", ("amount",), ("payment_date",)),
        ("gl_entries", ("debit", "credit"), ("posting_date",)),
    ):
        for before, after in zip(plain.erp(name), world.erp(name), strict=True):
            for col in amount_cols:
                if after[col] != before[col]:
                    seen[re.sub(r"\d+", "9", after[col])] += 1
                assert Decimal(after[col].strip()) == Decimal(before[col]), (col, after[col])
            for col in date_cols:
                if after[col] != before[col]:
                    assert after[col] == before[col] + "T00:00:00"
                    seen["T00:00:00"] += 1
            if name == "payments" and after["payment_method"] != before["payment_method"]:
                assert after["payment_method"].strip().lower() == "stripe"
                seen["method"] += 1
    for form in ("+9.9", " 9.9 ", "9.", "T00:00:00", "method"):
        assert seen[form], (form, seen)


def test_bank_memos_and_late_deposits(plain: W, knob_world: Any) -> None:
    world = knob_world("bank_memos", 0.8)
    truth = {r["payout_id"]: r for r in world.csv("truth", "payouts.csv")}
    memos = {ln["journal_number"]: ln["memo"] for ln in world.erp("gl_entries")}
    no_id = 0
    for s in world.stories_of("bank_memos"):
        memo = memos[s["erp_object_id"]]
        if s["stripe_object_id"].lower() not in memo.lower():
            no_id += 1
            assert truth[s["stripe_object_id"]]["expected_recon_status"] != "variance"
    assert no_id and any("TRACE#" in m for m in memos.values())
    lagged = knob_world("deposit_lag", 0.8)
    posted = {ln["journal_number"]: _date(ln["posting_date"]) for ln in lagged.erp("gl_entries")}
    assert lagged.stories_of("deposit_lag")
    for s in lagged.stories_of("deposit_lag"):
        arrival = _day(lagged.payouts[s["stripe_object_id"]]["arrival_date"])
        assert 2 <= (posted[s["erp_object_id"]] - arrival).days <= 6


def test_credit_memos_dated_before_and_after_their_refund(knob_world: Any) -> None:
    world = knob_world("credit_memo_dating", 0.8)
    refunds = {r["id"]: r for r in world.jsonl("refunds")}
    shifts = []
    for s in world.stories_of("credit_memo_dating"):
        cm = world.invoices[s["erp_object_id"]]
        assert cm["document_type"] == "credit_memo"
        shifts.append((_date(cm["document_date"]) - _day(refunds[s["stripe_object_id"]]["created"])).days)
    assert min(shifts) < 0 < max(shifts) and all(abs(d) <= 10 for d in shifts)


def test_one_charge_pays_several_invoices(knob_world: Any) -> None:
    world = knob_world("multi_invoice", 0.3, multi_invoice_one_receipt=0.5)
    pairs = defaultdict(list)
    for m in world.matches:
        if m["match_type"] == "charge_payment":
            pairs[m["stripe_object_id"]].append(m)
    kinds = Counter()
    for s in world.stories_of("multi_invoice"):
        rows = pairs[s["stripe_object_id"]]
        charge = world.charges[s["stripe_object_id"]]
        docs = {m["erp_document_number"] for m in rows}
        assert len(docs) >= 2
        invoiced = sum(_minor(world.invoices[d]["amount"], world.invoices[d]["currency"]) for d in docs)
        assert invoiced == charge["amount"]
        payments = {m["erp_payment_number"] for m in rows}
        received = sum(_minor(world.payments[p]["amount"], world.payments[p]["currency"]) for p in payments)
        assert received == charge["amount"]
        if len(payments) == 1:
            (pn,) = payments
            assert world.payments[pn]["document_number"] in {"", min(docs)}
            kinds["one receipt, " + ("unapplied" if not world.payments[pn]["document_number"] else "applied")] += 1
        else:
            assert len(payments) == len(docs)
            kinds["a receipt each"] += 1
    assert len(kinds) == 3, kinds


def test_instalments_pay_one_invoice(knob_world: Any) -> None:
    world = knob_world("instalments", 0.3)
    by_doc = defaultdict(list)
    for m in world.matches:
        by_doc[m["erp_document_number"]].append(m)
    docs = {s["erp_object_id"] for s in world.stories_of("instalments")}
    assert docs
    for doc in docs:
        rows = by_doc[doc]
        charges = sorted((world.charges[m["stripe_object_id"]] for m in rows), key=lambda c: c["created"])
        assert len(charges) >= 2 and len({m["erp_payment_number"] for m in rows}) == len(charges)
        inv = world.invoices[doc]
        assert sum(c["amount"] for c in charges) == _minor(inv["amount"], inv["currency"])
        assert len({c["customer"] for c in charges}) == 1
        for a, b in itertools.pairwise(charges):
            assert b["created"] - a["created"] >= 7 * 86_400 - 3600
        for m in rows:
            assert _date(world.payments[m["erp_payment_number"]]["payment_date"]) >= _day(
                world.charges[m["stripe_object_id"]]["created"]
            )


def test_subscriptions_renew_monthly_at_the_same_amount(knob_world: Any) -> None:
    world = knob_world("subscriptions", 0.3)
    starts = {}
    by_customer = defaultdict(list)
    for s in world.stories_of("subscriptions"):
        charge = world.charges[s["stripe_object_id"]]
        by_customer[(charge["customer"], charge["amount"])].append(charge)
        if "starts" in s["note"]:
            starts[(charge["customer"], charge["amount"])] = charge
    renewed = {k: v for k, v in by_customer.items() if len(v) >= 2}
    assert renewed
    for key, charges in renewed.items():
        charges.sort(key=lambda c: c["created"])
        assert starts[key]["id"] == charges[0]["id"]  # a subscription starts, then renews
        for a, b in itertools.pairwise(charges):
            assert 27 <= (_day(b["created"]) - _day(a["created"])).days <= 35


def test_twin_invoices_and_interchangeable_groups(knob_world: Any) -> None:
    world = knob_world("twin_invoices", 0.3)
    groups = defaultdict(list)
    for row in world.csv("truth", "interchangeable.csv"):
        groups[row["group"]].append((row["stripe_object_id"], row["erp_document_number"]))
    assert groups and len(world.stories_of("twin_invoices")) > len(groups)
    true_pairs = {(m["stripe_object_id"], m["erp_document_number"]): m for m in world.matches}
    refunded = {r["charge"] for r in world.jsonl("refunds")}
    for pairs in groups.values():
        assert len(pairs) == 2
        charges = [world.charges[c] for c, _ in pairs]
        invoices = [world.invoices[d] for _, d in pairs]
        payments = [world.payments[true_pairs[p]["erp_payment_number"]] for p in pairs]
        assert charges[0]["customer"] == charges[1]["customer"]
        assert charges[0]["amount"] == charges[1]["amount"]
        assert 1 <= (_day(charges[1]["created"]) - _day(charges[0]["created"])).days <= 5
        # nothing on either side tells which paid which
        for charge in charges:
            text = json.dumps([charge["metadata"], charge["description"]])
            assert not any(d.split("-")[1] in text for _, d in pairs), text
            assert charge["id"] not in refunded
        assert {i["external_reference"] for i in invoices} == {""}
        assert len({i["document_date"] for i in invoices}) == 1
        assert {p["memo"] for p in payments} == {""}
        assert len({p["payment_date"] for p in payments}) == 1
    confirmed = {
        d["stripe_object_id"]
        for d in world.csv("decisions", "match_decisions.csv")
        if d["decision"] == "confirmed"
    }
    assert not confirmed & {c for pairs in groups.values() for c, _ in pairs}


def test_equal_payouts_on_adjacent_days(tmp_path: Path) -> None:
    # a payout must have enough transactions for one of their subsets to sum to yesterday's
    generate_world(
        WorldSpec(seed=SEED, scale=3000, months=1, mess=NONE.with_knobs({"equal_payouts": 0.5})),
        tmp_path,
    )
    world = W(tmp_path)
    stories = world.stories_of("equal_payouts")
    assert stories
    composition = defaultdict(list)
    for row in world.csv("stripe", "payout_balance_transactions.csv"):
        composition[row["payout_id"]].append(row["balance_transaction_id"])
    txns = {t["id"]: t for t in world.jsonl("balance_transactions")}
    for s in stories:
        po = world.payouts[s["stripe_object_id"]]
        previous = world.payouts[re.search(r"as much as (po_\w+)", s["note"]).group(1)]  # type: ignore[union-attr]
        assert po["amount"] == previous["amount"]
        assert (_day(po["created"]) - _day(previous["created"])).days == 1
        settled = [txns[t] for t in composition[po["id"]] if txns[t]["type"] != "payout"]
        assert sum(t["net"] for t in settled) == po["amount"]
    paid_out = Counter(t for ids in composition.values() for t in ids)
    assert max(paid_out.values()) == 1  # what waited was paid out once, later


# ------------------------------------------------------------------ the messy world holds up
def test_messy_world_keeps_the_invariants(messy: W) -> None:
    txns = messy.jsonl("balance_transactions")
    assert all(t["amount"] - t["fee"] == t["net"] for t in txns)
    journals: dict[str, int] = defaultdict(int)
    for ln in messy.erp("gl_entries"):
        journals[ln["journal_number"]] += _minor(ln["debit"], "usd") - _minor(ln["credit"], "usd")
    assert set(journals.values()) == {0}
    anomalies = {a["object_id"] for a in messy.csv("truth", "anomalies.csv")}
    matched = {m["stripe_object_id"] for m in messy.matches}
    matched_payments = {m["erp_payment_number"] for m in messy.matches}
    for charge in messy.charges.values():
        if charge["status"] == "succeeded":
            assert charge["id"] in matched or charge["id"] in anomalies, charge["id"]
    for pn, pay in messy.payments.items():
        if pay["payment_method"].strip().lower() == "stripe":
            assert pn in matched_payments or pn in anomalies, pn
    for m in messy.matches:
        if m["erp_document_number"]:
            assert m["erp_document_number"] in messy.invoices, m
        if m["erp_payment_number"]:
            assert m["erp_payment_number"] in messy.payments, m
    # every knob left its stories
    assert {s["knob"] for s in messy.stories} == set(MESSY.active()) - {"multi_invoice_one_receipt"}


def test_truth_extras_name_real_objects(messy: W) -> None:
    anomalies = {a["object_id"] for a in messy.csv("truth", "anomalies.csv")}
    related = messy.csv("truth", "anomaly_related.csv")
    assert related and {r["object_id"] for r in related} <= anomalies
    journals = {ln["journal_number"] for ln in messy.erp("gl_entries")}
    for r in related:
        rid = r["related_id"]
        assert rid in messy.charges or rid in messy.invoices or rid in messy.payments or rid in journals, r
    scope = messy.csv("truth", "out_of_scope.csv")
    assert {s["scope"] for s in scope} == {"failed_charge", "open_invoice", "void_invoice", "wire_check"}
    for s in scope:
        obj = s["object_id"]
        if s["scope"] == "failed_charge":
            assert messy.charges[obj]["status"] == "failed"
        else:
            assert obj in messy.invoices or obj in messy.payments, s
    resolved = {r["object_id"] for r in messy.csv("truth", "resolved.csv")}
    resolutions = {r["object_id"] for r in messy.csv("decisions", "exception_resolutions.csv")}
    assert resolved == resolutions and resolved <= anomalies
