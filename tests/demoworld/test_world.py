"""The demo-world generator: determinism, Stripe invariants, balanced books, honest truth."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from core.settings import PROJECT_DIR
from demoworld.context import DEFAULT_PAYMENT_METHODS
from demoworld.world import DISPOSITIONS, WorldSpec, generate_world

SCALE = 3_000
KNOWN_CURRENCIES = {"usd", "eur", "gbp", "cad", "jpy", "kwd"}
EXPONENT = {"usd": 2, "eur": 2, "gbp": 2, "cad": 2, "jpy": 0, "kwd": 3}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as fh:
        return [json.loads(line) for line in fh]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _csv_lines(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(1-based line, row) for every data row; the header is line 1."""
    with path.open(newline="", encoding="utf-8") as fh:
        yield from enumerate(csv.DictReader(fh), start=2)


def _to_minor(amount: str, currency: str) -> int:
    return int(Decimal(amount).scaleb(EXPONENT[currency.lower()]))


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass
class World:
    root: Path

    def stripe(self, name: str) -> list[dict[str, Any]]:
        return _jsonl(self.root / "stripe" / f"{name}.jsonl")

    @cached_property
    def charges(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.stripe("charges")}

    @cached_property
    def txns(self) -> dict[str, dict[str, Any]]:
        return {t["id"]: t for t in self.stripe("balance_transactions")}

    @cached_property
    def payouts(self) -> dict[str, dict[str, Any]]:
        return {p["id"]: p for p in self.stripe("payouts")}

    @cached_property
    def refunds(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.stripe("refunds")}

    @cached_property
    def disputes(self) -> dict[str, dict[str, Any]]:
        return {d["id"]: d for d in self.stripe("disputes")}

    @cached_property
    def composition(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for row in _csv(self.root / "stripe" / "payout_balance_transactions.csv"):
            out[row["payout_id"]].append(row["balance_transaction_id"])
        return out

    @cached_property
    def bad_lines(self) -> dict[str, set[int]]:
        out: dict[str, set[int]] = defaultdict(set)
        for row in _csv(self.root / "truth" / "bad_rows.csv"):
            out[row["file"]].add(int(row["line"]))
        return out

    def erp(self, name: str) -> list[dict[str, str]]:
        """Good rows only (the rows truth/bad_rows.csv names are left out)."""
        bad = self.bad_lines[f"{name}.csv"]
        return [
            row for line, row in _csv_lines(self.root / "erp" / f"{name}.csv") if line not in bad
        ]

    @cached_property
    def payments(self) -> dict[str, dict[str, str]]:
        return {p["payment_number"]: p for p in self.erp("payments")}

    @cached_property
    def invoices(self) -> dict[str, dict[str, str]]:
        return {i["document_number"]: i for i in self.erp("invoices")}

    @cached_property
    def gl(self) -> list[dict[str, str]]:
        return self.erp("gl_entries")

    @cached_property
    def matches(self) -> list[dict[str, str]]:
        return _csv(self.root / "truth" / "matches.csv")

    @cached_property
    def anomalies(self) -> list[dict[str, str]]:
        return _csv(self.root / "truth" / "anomalies.csv")

    @cached_property
    def truth_payouts(self) -> dict[str, dict[str, str]]:
        return {row["payout_id"]: row for row in _csv(self.root / "truth" / "payouts.csv")}

    @cached_property
    def matched_ids(self) -> set[str]:
        return {m["stripe_object_id"] for m in self.matches}

    @cached_property
    def matched_payments(self) -> dict[str, dict[str, str]]:
        return {m["erp_payment_number"]: m for m in self.matches if m["erp_payment_number"]}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    generate_world(WorldSpec(seed=42, scale=SCALE), root)
    return World(root)


# ------------------------------------------------------------------ determinism
def test_same_seed_gives_same_bytes(world: World, tmp_path: Path) -> None:
    generate_world(WorldSpec(seed=42, scale=SCALE), tmp_path)
    first, second = _hashes(world.root), _hashes(tmp_path)
    assert len(first) >= 20
    assert first == second


def test_different_seed_gives_different_world(world: World, tmp_path: Path) -> None:
    generate_world(WorldSpec(seed=7, scale=SCALE), tmp_path)
    first, second = _hashes(world.root), _hashes(tmp_path)
    assert first["stripe/charges.jsonl"] != second["stripe/charges.jsonl"]
    assert first["erp/payments.csv"] != second["erp/payments.csv"]


def test_manifest_counts_match_files(world: World) -> None:
    manifest = json.loads((world.root / "manifest.json").read_text())
    assert manifest["api_version"] == "2025-02-24.acacia"
    assert manifest["counts"]["charges"] == len(world.charges)
    assert manifest["counts"]["payouts"] == len(world.payouts)
    succeeded = sum(c["status"] == "succeeded" for c in world.charges.values())
    assert SCALE <= succeeded <= SCALE * 1.05


# ------------------------------------------------------------------ Stripe invariants
def test_every_balance_transaction_amount_minus_fee_is_net(world: World) -> None:
    assert world.txns
    for t in world.txns.values():
        assert t["amount"] - t["fee"] == t["net"], t["id"]
        assert sum(d["amount"] for d in t["fee_details"]) == t["fee"], t["id"]
        assert t["reporting_category"] and t["currency"] == "usd"


MONEY_FIELDS = {
    "charges": ("amount", "amount_captured", "amount_refunded"),
    "payment_intents": ("amount", "amount_received", "amount_capturable"),
    "refunds": ("amount",),
    "disputes": ("amount",),
    "invoices": ("amount_due", "amount_paid", "amount_remaining", "subtotal", "total"),
    "balance_transactions": ("amount", "fee", "net"),
    "payouts": ("amount",),
    "customers": ("balance",),
}


@pytest.mark.parametrize("name", sorted(MONEY_FIELDS))
def test_money_fields_in_stripe_files_are_ints(world: World, name: str) -> None:
    objects = world.stripe(name)
    assert objects, name
    for obj in objects:
        for field in MONEY_FIELDS[name]:
            assert type(obj[field]) is int, (name, obj["id"], field)


def test_charges_carry_the_documented_fields(world: World) -> None:
    expected = {
        "amount",
        "amount_captured",
        "amount_refunded",
        "application",
        "application_fee",
        "application_fee_amount",
        "balance_transaction",
        "billing_details",
        "calculated_statement_descriptor",
        "captured",
        "created",
        "currency",
        "customer",
        "description",
        "destination",
        "dispute",
        "disputed",
        "failure_balance_transaction",
        "failure_code",
        "failure_message",
        "fraud_details",
        "invoice",
        "livemode",
        "metadata",
        "on_behalf_of",
        "outcome",
        "paid",
        "payment_intent",
        "payment_method",
        "payment_method_details",
        "radar_options",
        "receipt_email",
        "receipt_number",
        "receipt_url",
        "refunded",
        "review",
        "shipping",
        "source_transfer",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "status",
        "transfer_data",
        "transfer_group",
    }
    returned = 0
    for c in world.charges.values():
        assert expected <= c.keys(), expected - c.keys()
        if c["status"] == "failed" and c["failure_balance_transaction"] is None:  # declined
            assert c["paid"] is False and c["balance_transaction"] is None and c["failure_code"]
        elif c["status"] == "failed":  # a bank debit returned after it succeeded
            returned += 1
            assert c["paid"] is False and c["failure_code"]
            assert c["payment_method_details"]["type"] in ("us_bank_account", "sepa_debit")
            reversal = world.txns[c["failure_balance_transaction"]]
            taken = world.txns[c["balance_transaction"]]
            assert (reversal["type"], reversal["source"]) == ("payment_failure_refund", c["id"])
            assert reversal["amount"] == -taken["amount"] and reversal["created"] > taken["created"]
        else:
            assert world.txns[c["balance_transaction"]]["source"] == c["id"]
    declined = sum(c["status"] == "failed" for c in world.charges.values()) - returned
    assert 0.01 < declined / len(world.charges) < 0.06
    assert returned > 0


def test_refunds_and_disputes_are_reflected_on_their_charge(world: World) -> None:
    for r in world.refunds.values():
        charge = world.charges[r["charge"]]
        assert charge["amount_refunded"] == r["amount"]
        assert charge["refunded"] is (r["amount"] == charge["amount"])
        assert world.txns[r["balance_transaction"]]["amount"] < 0
    assert any(c["refunded"] for c in world.charges.values())
    assert any(0 < c["amount_refunded"] < c["amount"] for c in world.charges.values())
    for d in world.disputes.values():
        charge = world.charges[d["charge"]]
        assert charge["disputed"] is True and charge["dispute"] == d["id"]
        assert d["balance_transactions"][0]["fee"] == 1500
        if d["status"] == "won":
            assert [t["reporting_category"] for t in d["balance_transactions"]] == [
                "dispute",
                "dispute_reversal",
            ]


def test_every_payout_composition_includes_its_own_transaction(world: World) -> None:
    for po in world.payouts.values():
        assert po["balance_transaction"] in world.composition[po["id"]], po["id"]


def test_paid_automatic_payout_equals_net_of_its_composition(world: World) -> None:
    checked = 0
    for po in world.payouts.values():
        if po["status"] != "paid" or not po["automatic"]:
            continue
        others = [t for t in world.composition[po["id"]] if t != po["balance_transaction"]]
        assert sum(world.txns[t]["net"] for t in others) == po["amount"], po["id"]
        checked += 1
    assert checked > 100


def test_each_balance_transaction_is_paid_out_at_most_once(world: World) -> None:
    seen = Counter(t for ids in world.composition.values() for t in ids)
    assert max(seen.values()) == 1


def test_exactly_one_failed_payout_whose_funds_are_paid_again(world: World) -> None:
    failed = [p for p in world.payouts.values() if p["status"] == "failed"]
    assert len(failed) == 1
    po = failed[0]
    failure = world.txns[po["failure_balance_transaction"]]
    assert (failure["type"], failure["reporting_category"]) == ("payout_failure", "payout_reversal")
    assert failure["amount"] == po["amount"]
    later = [p for p, ids in world.composition.items() if failure["id"] in ids]
    assert len(later) == 1 and world.payouts[later[0]]["created"] > po["created"]


def test_events_have_the_event_shape_and_needed_types(world: World) -> None:
    events = world.stripe("events")
    types = Counter(e["type"] for e in events)
    needed = {
        "customer.created",
        "charge.succeeded",
        "charge.failed",
        "payment_intent.succeeded",
        "charge.refunded",
        "refund.created",
        "charge.dispute.created",
        "charge.dispute.closed",
        "invoice.paid",
        "payout.created",
        "payout.paid",
        "payout.failed",
        "balance.available",
    }
    assert needed <= types.keys(), needed - types.keys()
    for e in events[:500]:
        assert list(e) == [
            "id",
            "object",
            "api_version",
            "created",
            "data",
            "livemode",
            "pending_webhooks",
            "request",
            "type",
        ]
    snapshots = {
        e["data"]["object"]["id"]: e["data"]["object"]
        for e in events
        if e["type"] == "charge.succeeded"
    }
    refunded = [c for c in world.charges.values() if c["amount_refunded"]]
    assert refunded and all(snapshots[c["id"]]["amount_refunded"] == 0 for c in refunded)


def test_each_refund_has_a_refund_created_event_carrying_it(world: World) -> None:
    events = world.stripe("events")
    created = [e for e in events if e["type"] == "refund.created"]
    assert {e["data"]["object"]["id"] for e in created} == world.refunds.keys()
    assert len(created) == len(world.refunds)
    refunded_by_charge = {
        e["data"]["object"]["id"]: e for e in events if e["type"] == "charge.refunded"
    }
    for e in created:
        refund = world.refunds[e["data"]["object"]["id"]]
        assert e["data"]["object"] == refund and e["created"] == refund["created"]
        # one API request, the refund, made both events
        assert e["request"] == refunded_by_charge[refund["charge"]]["request"]
        assert e["request"]["id"] is not None
    assert len({e["id"] for e in events}) == len(events)


# ------------------------------------------------------------------ ERP books
def test_every_erp_journal_balances(world: World) -> None:
    debit: Counter[str] = Counter()
    credit: Counter[str] = Counter()
    for line in world.gl:
        debit[line["journal_number"]] += Decimal(line["debit"])
        credit[line["journal_number"]] += Decimal(line["credit"])
    assert len(debit) > 100
    unbalanced = {j for j in debit if debit[j] != credit[j]}
    assert not unbalanced


def test_each_payout_deposit_debits_bank_with_the_payout_amount(world: World) -> None:
    bank = {
        ln["journal_number"]: _to_minor(ln["debit"], "usd")
        for ln in world.gl
        if ln["account_number"] == "1000"
    }
    for row in world.truth_payouts.values():
        if row["expected_recon_status"] == "reconciled":
            assert bank[row["erp_journal_number"]] == int(row["payout_amount_minor"])
            assert row["deposit_amount_minor"] == row["payout_amount_minor"]
        elif row["expected_recon_status"] == "variance":
            deposit = int(row["deposit_amount_minor"])
            assert bank[row["erp_journal_number"]] == deposit != int(row["payout_amount_minor"])
        else:
            assert row["erp_journal_number"] == "" and row["deposit_amount_minor"] == ""


def test_variance_payouts_are_as_rare_as_missing_deposits_with_their_truth(world: World) -> None:
    """A few paid payouts whose deposit is booked at another amount: status `variance` in
    truth/payouts.csv, an `amount_mismatch` on the payout in truth/anomalies.csv and the
    payout_deposit pair in truth/matches.csv."""
    statuses = Counter(row["expected_recon_status"] for row in world.truth_payouts.values())
    assert 3 <= statuses["variance"] <= 6, statuses
    assert abs(statuses["variance"] - statuses["missing_deposit"]) <= 2, statuses
    anomalies = {a["object_id"]: a for a in world.anomalies}
    deposits = {
        m["stripe_object_id"]: m["erp_journal_number"]
        for m in world.matches
        if m["match_type"] == "payout_deposit"
    }
    for po_id, row in world.truth_payouts.items():
        if row["expected_recon_status"] != "variance":
            continue
        assert row["status"] == world.payouts[po_id]["status"] == "paid"
        a = anomalies[po_id]
        assert (a["side"], a["exception_type"], a["disposition"]) == (
            "stripe",
            "amount_mismatch",
            "true_exception",
        )
        assert int(a["amount_minor"]) == int(row["payout_amount_minor"])
        assert int(a["difference_minor"]) == int(row["deposit_amount_minor"]) - int(
            row["payout_amount_minor"]
        )
        assert deposits[po_id] == row["erp_journal_number"]


def test_a_variance_deposit_balances_and_names_its_payout(world: World) -> None:
    """The difference goes to bank charges (a bank fee taken off the deposit) or through the
    clearing line (the deposit keyed wrong on both lines): debits = credits either way."""
    journals: dict[str, list[dict[str, str]]] = defaultdict(list)
    for ln in world.gl:
        journals[ln["journal_number"]].append(ln)
    kinds: Counter[str] = Counter()
    for po_id, row in world.truth_payouts.items():
        if row["expected_recon_status"] != "variance":
            continue
        lines = {ln["account_number"]: ln for ln in journals[row["erp_journal_number"]]}
        assert all(po_id in ln["memo"] for ln in lines.values())
        debit = sum(_to_minor(ln["debit"], "usd") for ln in lines.values())
        credit = sum(_to_minor(ln["credit"], "usd") for ln in lines.values())
        assert debit == credit
        difference = int(row["deposit_amount_minor"]) - int(row["payout_amount_minor"])
        if "6170" in lines:  # Bank Charges
            kinds["bank_fee"] += 1
            assert _to_minor(lines["6170"]["debit"], "usd") == -difference > 0
        else:
            kinds["keying"] += 1
            fees = _to_minor(lines["6150"]["debit"], "usd") if "6150" in lines else 0
            assert _to_minor(lines["1150"]["credit"], "usd") == int(row["deposit_amount_minor"]) + fees
            assert 100 <= abs(difference) <= 900
    assert kinds, "no variance payout"


@pytest.mark.parametrize("currency", ["jpy", "kwd"], ids=["zero-decimal", "three-decimal"])
def test_unusual_exponents_are_present_and_correct(world: World, currency: str) -> None:
    charges = [c for c in world.charges.values() if c["currency"] == currency]
    assert charges
    if currency == "kwd":
        assert all(c["amount"] % 10 == 0 for c in charges)
    rows = [i for i in world.invoices.values() if i["currency"].lower() == currency]
    assert rows
    for row in rows:
        decimals = row["amount"].split(".")[1] if "." in row["amount"] else ""
        assert len(decimals) == EXPONENT[currency], row


def test_bad_rows_are_really_bad_and_really_there(world: World) -> None:
    reasons = Counter()
    for bad in _csv(world.root / "truth" / "bad_rows.csv"):
        path = world.root / "erp" / bad["file"]
        rows = dict(_csv_lines(path))
        row, line = rows[int(bad["line"])], int(bad["line"])
        reason = bad["reason"]
        if reason == "unparseable amount":
            field = "debit" if bad["file"] == "gl_entries.csv" else "amount"
            with pytest.raises(InvalidOperation):
                Decimal(row[field])
        elif reason == "unparseable date":
            field = {
                "invoices.csv": "document_date",
                "payments.csv": "payment_date",
                "gl_entries.csv": "posting_date",
            }[bad["file"]]
            with pytest.raises(ValueError):
                dt.date.fromisoformat(row[field])
        elif reason == "unknown currency":
            assert row["currency"].lower() not in KNOWN_CURRENCIES
        else:
            assert reason.startswith("duplicate key")
            key = {
                "invoices.csv": ("document_number",),
                "payments.csv": ("payment_number",),
                "gl_entries.csv": ("journal_number", "line_number"),
            }[bad["file"]]
            earlier = [
                n
                for n, r in rows.items()
                if n < line and tuple(r[k] for k in key) == tuple(row[k] for k in key)
            ]
            assert earlier, bad
        reasons[(bad["file"], reason.split(" (")[0].split(" INV")[0].split(" PMT")[0])] += 1
    for name in ("invoices.csv", "payments.csv", "gl_entries.csv"):
        kinds = {r for f, r in reasons if f == name}
        assert kinds == {
            "unparseable amount",
            "unparseable date",
            "unknown currency",
            "duplicate key",
        }, (name, kinds)


@pytest.mark.parametrize(
    "name,key", [("invoices", "document_number"), ("payments", "payment_number")]
)
def test_good_erp_rows_parse_and_have_unique_keys(world: World, name: str, key: str) -> None:
    rows = world.erp(name)
    assert len({r[key] for r in rows}) == len(rows)
    date_field = "document_date" if name == "invoices" else "payment_date"
    for r in rows:
        Decimal(r["amount"])
        dt.date.fromisoformat(r[date_field])
        assert r["currency"].lower() in KNOWN_CURRENCIES


# ------------------------------------------------------------------ truth
def test_every_exception_type_is_present_with_its_disposition(world: World) -> None:
    types = {a["exception_type"] for a in world.anomalies}
    assert types == set(DISPOSITIONS)
    for a in world.anomalies:
        assert a["disposition"] == DISPOSITIONS[a["exception_type"]]


def test_anomalies_are_two_to_five_percent_of_items_and_spread(world: World) -> None:
    items = (
        sum(c["status"] == "succeeded" for c in world.charges.values())
        + len(world.refunds)
        + len(world.disputes)
        + len(world.payouts)
    )
    share = len(world.anomalies) / items
    assert 0.02 <= share <= 0.05, share
    assert len({a["period"] for a in world.anomalies}) == 6


def test_truth_matches_point_at_real_objects(world: World) -> None:
    journals = {ln["journal_number"] for ln in world.gl}
    # A returned debit's reversal is matched to its payment_failure_refund balance transaction.
    returns = {t["id"] for t in world.stripe("balance_transactions") if t["type"] == "payment_failure_refund"}
    stripe_ids = (
        world.charges.keys() | world.refunds.keys() | world.payouts.keys() | world.disputes.keys() | returns
    )
    for m in world.matches:
        assert m["stripe_object_id"] in stripe_ids, m
        if m["erp_document_number"]:
            assert m["erp_document_number"] in world.invoices, m
        if m["erp_payment_number"]:
            pay = world.payments[m["erp_payment_number"]]
            assert pay["document_number"] == m["erp_document_number"], m
        if m["erp_journal_number"]:
            assert m["erp_journal_number"] in journals, m


def test_everything_is_matched_or_an_anomaly(world: World) -> None:
    """Conservation: what a perfect reconciliation must account for, truth accounts for."""
    excepted = {a["object_id"] for a in world.anomalies}
    succeeded = [c for c in world.charges.values() if c["status"] == "succeeded"]
    for obj_id in [c["id"] for c in succeeded] + list(world.refunds) + list(world.payouts):
        assert obj_id in world.matched_ids or obj_id in excepted, obj_id
    for pmt, row in world.payments.items():
        if row["payment_method"].lower() == "stripe":
            assert pmt in world.matched_payments or pmt in excepted, pmt


def test_payout_invoices_are_settled_documents(world: World) -> None:
    rows = _csv(world.root / "truth" / "payout_invoices.csv")
    pairs = {(m["stripe_object_id"], m["erp_document_number"]) for m in world.matches}
    assert rows
    for row in rows:
        assert (row["stripe_object_id"], row["erp_document_number"]) in pairs, row
        assert row["payout_id"] in world.payouts


def _payment_for(world: World, charge_id: str) -> dict[str, str]:
    [match] = [m for m in world.matches if m["stripe_object_id"] == charge_id]
    return world.payments[match["erp_payment_number"]]


def _check_timing(world: World, a: dict[str, str]) -> None:
    if a["object_id"].startswith("po_"):
        assert world.payouts[a["object_id"]]["status"] == "in_transit"
        return
    charge = world.charges[a["object_id"]]
    pay = _payment_for(world, charge["id"])
    charged = dt.datetime.fromtimestamp(charge["created"], dt.UTC).date()
    assert pay["payment_date"][:7] != charged.isoformat()[:7]
    assert _to_minor(pay["amount"], pay["currency"]) == charge["amount"]


def _check_fee(world: World, a: dict[str, str]) -> None:
    charge = world.charges[a["object_id"]]
    txn = world.txns[charge["balance_transaction"]]
    pay = _payment_for(world, charge["id"])
    assert charge["currency"] == "usd"
    assert _to_minor(pay["amount"], "usd") == txn["net"] != charge["amount"]


def _check_fx(world: World, a: dict[str, str]) -> None:
    charge = world.charges[a["object_id"]]
    txn = world.txns[charge["balance_transaction"]]
    pay = _payment_for(world, charge["id"])
    assert charge["currency"] != "usd" and pay["currency"].lower() == "usd"
    erp = _to_minor(pay["amount"], "usd")
    assert erp != txn["amount"] and abs(erp - txn["amount"]) <= 0.03 * txn["amount"] + 2


def _check_rounding(world: World, a: dict[str, str]) -> None:
    charge = world.charges[a["object_id"]]
    pay = _payment_for(world, charge["id"])
    assert abs(_to_minor(pay["amount"], pay["currency"]) - charge["amount"]) == 1


def _check_mismatch(world: World, a: dict[str, str]) -> None:
    if a["object_id"].startswith("po_"):  # a payout whose deposit was booked at another amount
        po = world.payouts[a["object_id"]]
        row = world.truth_payouts[po["id"]]
        bank = [
            _to_minor(ln["debit"], "usd")
            for ln in world.gl
            if ln["journal_number"] == row["erp_journal_number"] and ln["account_number"] == "1000"
        ]
        assert row["expected_recon_status"] == "variance" and po["status"] == "paid"
        assert bank == [po["amount"] + int(a["difference_minor"])] and bank[0] != po["amount"]
        return
    charge = world.charges[a["object_id"]]
    pay = _payment_for(world, charge["id"])
    fee = world.txns[charge["balance_transaction"]]["fee"]
    diff = abs(_to_minor(pay["amount"], pay["currency"]) - charge["amount"])
    assert diff > 1 and diff != fee


def _check_duplicate_charge(world: World, a: dict[str, str]) -> None:
    dup = world.charges[a["object_id"]]
    assert dup["status"] == "succeeded" and dup["id"] not in world.matched_ids
    twins = [
        c
        for c in world.charges.values()
        if c["id"] != dup["id"]
        and c["status"] == "succeeded"
        and (c["customer"], c["amount"], c["metadata"], c["description"])
        == (dup["customer"], dup["amount"], dup["metadata"], dup["description"])
        and 0 < dup["created"] - c["created"] <= 3600
    ]
    assert len(twins) == 1 and twins[0]["id"] in world.matched_ids
    assert "invoice_number" in dup["metadata"] or "INV-" in (dup["description"] or "")


def _check_missing_in_erp(world: World, a: dict[str, str]) -> None:
    obj_id = a["object_id"]
    assert obj_id in world.charges or obj_id in world.refunds
    assert obj_id not in world.matched_ids
    assert not any(obj_id in p["memo"] for p in world.payments.values())
    assert not any(obj_id == i["external_reference"] for i in world.invoices.values())


def _check_missing_in_stripe(world: World, a: dict[str, str]) -> None:
    pay = world.payments[a["object_id"]]
    assert pay["payment_method"].lower() == "stripe"
    assert a["object_id"] not in world.matched_payments
    assert pay["document_number"] not in {m["erp_document_number"] for m in world.matches}


def _check_duplicate_erp_entry(world: World, a: dict[str, str]) -> None:
    later = world.payments[a["object_id"]]
    fields = ("document_number", "payment_date", "currency", "amount", "memo")
    firsts = [
        p
        for n, p in world.payments.items()
        if n < a["object_id"] and all(p[f] == later[f] for f in fields)
    ]
    assert len(firsts) == 1 and firsts[0]["payment_number"] in world.matched_payments
    assert a["object_id"] not in world.matched_payments


def _check_unrecorded_dispute(world: World, a: dict[str, str]) -> None:
    dispute = world.disputes[a["object_id"]]
    memos = " ".join(ln["memo"] for ln in world.gl)
    assert dispute["id"] not in memos and dispute["charge"] not in memos
    assert a["object_id"] not in world.matched_ids


def _check_missing_deposit(world: World, a: dict[str, str]) -> None:
    po = world.payouts[a["object_id"]]
    assert po["status"] == "paid" and po["id"] not in world.matched_ids
    assert not any(po["id"] in ln["memo"] for ln in world.gl)
    bank_debits = {
        _to_minor(ln["debit"], "usd") for ln in world.gl if ln["account_number"] == "1000"
    }
    assert po["amount"] not in bank_debits


def _check_failed_payout(world: World, a: dict[str, str]) -> None:
    assert world.payouts[a["object_id"]]["status"] == "failed"


def _check_debit_failed_after_booking(world: World, a: dict[str, str]) -> None:
    charge = world.charges[a["object_id"]]
    assert charge["status"] == "failed" and charge["failure_balance_transaction"]
    reversal = world.txns[charge["failure_balance_transaction"]]
    assert reversal["type"] == "payment_failure_refund"
    booked = [m for m in world.matches if m["stripe_object_id"] == charge["id"]]
    assert len(booked) == 1, booked
    receipt = world.payments[booked[0]["erp_payment_number"]]
    assert _to_minor(receipt["amount"], receipt["currency"]) == charge["amount"]
    # the ERP booked the receipt before the bank returned the debit, and never reversed it
    assert dt.date.fromisoformat(receipt["payment_date"]) <= dt.datetime.fromtimestamp(reversal["created"], dt.UTC).date()
    assert not any(charge["id"] in p["memo"] and p["amount"].startswith("-") for p in world.payments.values())


CHECKS: dict[str, Callable[[World, dict[str, str]], None]] = {
    "timing_difference": _check_timing,
    "fee_variance": _check_fee,
    "fx_variance": _check_fx,
    "rounding": _check_rounding,
    "amount_mismatch": _check_mismatch,
    "duplicate_charge": _check_duplicate_charge,
    "missing_in_erp": _check_missing_in_erp,
    "missing_in_stripe": _check_missing_in_stripe,
    "duplicate_erp_entry": _check_duplicate_erp_entry,
    "unrecorded_dispute": _check_unrecorded_dispute,
    "missing_deposit": _check_missing_deposit,
    "failed_payout": _check_failed_payout,
    "debit_failed_after_booking": _check_debit_failed_after_booking,
}


def test_the_world_moves_money_as_the_seed_says(world: World) -> None:
    """The demo's payment methods settle and charge fees as seeds/payment_methods.csv says,
    which is what the project knows of them: the world and the project agree."""
    seed = {row["payment_method"]: row for row in _csv(PROJECT_DIR / "seeds" / "payment_methods.csv")}
    for method in DEFAULT_PAYMENT_METHODS:
        row = seed[method.name]
        assert int(row["settlement_days"]) == method.settlement_days
        assert (row["fee_percent_bps"], row["fee_fixed_minor"], row["fee_cap_minor"]) == (
            str(method.fee_percent_bps), str(method.fee_fixed_minor), str(method.fee_cap_minor or "")
        )
        paid = [c for c in world.charges.values() if c["payment_method_details"]["type"] == method.name]
        assert paid, method.name
        for c in paid:
            txn = world.txns[c["balance_transaction"]]
            assert txn["fee"] == method.fee(txn["amount"]), c["id"]
            created = dt.datetime.fromtimestamp(c["created"], dt.UTC).date()
            available = dt.datetime.fromtimestamp(txn["available_on"], dt.UTC).date()
            assert (available - created).days == method.settlement_days + 2


def test_a_bank_transfer_pays_several_invoices_with_a_receipt_each(world: World) -> None:
    transfers = [c for c in world.charges.values() if c["payment_method_details"]["type"] == "customer_balance"]
    assert transfers
    for c in transfers:
        pairs = [m for m in world.matches if m["stripe_object_id"] == c["id"]]
        assert 2 <= len(pairs) <= 3 and len({m["erp_payment_number"] for m in pairs}) == len(pairs)
        paid = sum(
            _to_minor(world.payments[m["erp_payment_number"]]["amount"], c["currency"]) for m in pairs
        )
        assert paid == c["amount"]


def test_a_returned_debit_is_reversed_in_the_erp_or_is_an_anomaly(world: World) -> None:
    """Each debit the bank returned after the ERP booked it is either reversed in the ERP (a
    negative receipt of its amount on its invoice, in the month of the return, paired in the
    truth with the return's balance transaction) or a `debit_failed_after_booking` anomaly,
    never both; and the ERP reverses some and misses some."""
    flagged = {a["object_id"] for a in world.anomalies if a["exception_type"] == "debit_failed_after_booking"}
    reversals = {m["stripe_object_id"]: m for m in world.matches if m["stripe_object_id"].startswith("txn_")}
    returned = [c for c in world.charges.values() if c["status"] == "failed" and c["failure_balance_transaction"]]
    reversed_ = 0
    for c in returned:
        reversal = reversals.get(c["failure_balance_transaction"])
        assert (reversal is None) == (c["id"] in flagged), c["id"]
        if reversal is None:
            continue
        reversed_ += 1
        (receipt,) = [m for m in world.matches if m["stripe_object_id"] == c["id"]]
        payment = world.payments[reversal["erp_payment_number"]]
        assert reversal["match_type"] == "refund_payment"
        assert payment["document_number"] == reversal["erp_document_number"] == receipt["erp_document_number"]
        assert _to_minor(payment["amount"], payment["currency"]) == -c["amount"]
        returned_on = dt.datetime.fromtimestamp(world.txns[c["failure_balance_transaction"]]["created"], dt.UTC).date()
        booked_on = dt.date.fromisoformat(payment["payment_date"])
        assert booked_on >= returned_on and booked_on.strftime("%Y-%m") == returned_on.strftime("%Y-%m")
        assert booked_on >= dt.date.fromisoformat(world.payments[receipt["erp_payment_number"]]["payment_date"])
    assert 0 < reversed_ < len(returned)
    assert json.loads((world.root / "manifest.json").read_text())["counts"]["erp_debit_reversals"] == reversed_


@pytest.mark.parametrize("exception_type", sorted(CHECKS))
def test_each_anomaly_is_really_in_the_data(world: World, exception_type: str) -> None:
    found = [a for a in world.anomalies if a["exception_type"] == exception_type]
    assert found
    for a in found:
        CHECKS[exception_type](world, a)


def test_recorded_disputes_have_a_chargeback_journal(world: World) -> None:
    unrecorded = {
        a["object_id"] for a in world.anomalies if a["exception_type"] == "unrecorded_dispute"
    }
    journals = {
        m["stripe_object_id"] for m in world.matches if m["match_type"] == "dispute_chargeback"
    }
    assert world.disputes.keys() == unrecorded | journals
    assert not unrecorded & journals


def test_decisions_cover_closed_months_only(world: World) -> None:
    resolutions = _csv(world.root / "decisions" / "exception_resolutions.csv")
    anomalies = {(a["object_id"], a["exception_type"]): a for a in world.anomalies}
    assert resolutions
    for r in resolutions:
        a = anomalies[(r["object_id"], r["exception_type"])]
        assert a["period"] < "2025-06" and r["disposition"] == a["disposition"]
        assert r["resolved_at"].endswith("Z") and r["resolved_at"][:7] > a["period"]
    decisions = _csv(world.root / "decisions" / "match_decisions.csv")
    true_pairs = {(m["stripe_object_id"], m["erp_document_number"]) for m in world.matches}
    assert {d["decision"] for d in decisions} == {"confirmed", "rejected"}
    for d in decisions:
        pair = (d["stripe_object_id"], d["erp_document_number"])
        assert (pair in true_pairs) is (d["decision"] == "confirmed"), d
