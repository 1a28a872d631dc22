"""The auto-accept policy: per match type and per exception type, in one currency, an item is
accepted without a person when its confidence is at or above a minimum and its amount (absolute,
integer minor units of that currency) at or below a maximum. Where no rule names an item's type
and currency, the project's default stands (dbt vars auto_match_min_confidence for pairs,
review_min_confidence and review_amount_limit_minor for exceptions).

An admin changes the rules on the review page's settings page; every change is a row of the
store's append-only policy log (recon/review/store.py). `recon run` passes the rules in force to
dbt as the var `auto_accept_policy` (`policy_vars`), which the macro `auto_accepted` turns into
the status of a pair (int_matches_resolved) and `requires_review` of an exception
(fct_reconciliation_exceptions). Every value is checked here against an allow-list or a pattern
before it is stored, and again by the macro before it reaches SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from core.currencies import exponents
from core.errors import UserError
from core.settings import PROJECT_DIR
from core.vocabulary import EXCEPTION_TYPES
from recon.review.store import PolicyChange

MATCH_TYPES = ("charge_payment", "refund_payment", "payout_deposit", "dispute_chargeback")
TYPES_OF_KIND = {"match": MATCH_TYPES, "exception": EXCEPTION_TYPES}
CONFIDENCE = re.compile(r"^(0(\.\d{1,4})?|1(\.0{1,4})?)$")
AMOUNT = re.compile(r"^\d{1,15}(\.\d{1,3})?$")
VAR = "auto_accept_policy"


@dataclass(frozen=True)
class RuleInput:
    """A rule as the settings form sends it, checked: the amount converted to minor units of the
    rule's currency exactly (a fraction finer than the currency's minor unit is refused)."""

    kind: str
    item_type: str
    currency: str
    min_confidence: str | None
    max_amount_minor: int | None

    @classmethod
    def parse(cls, form: dict[str, str], *, remove: bool = False) -> RuleInput:
        if "rule_type" in form:  # the settings form's one select: `match:charge_payment`
            kind, _, item_type = form["rule_type"].partition(":")
            form = {**form, "kind": kind, "item_type": item_type}
        kind = form.get("kind", "").strip()
        if kind not in TYPES_OF_KIND:
            raise UserError("A policy rule is for a match type or an exception type.")
        item_type = form.get("item_type", "").strip()
        if item_type not in TYPES_OF_KIND[kind]:
            raise UserError(f"{item_type[:40]!r} is not a {kind} type.")
        currency = form.get("currency", "").strip().lower()
        known = exponents()
        if currency not in known:
            raise UserError(f"{currency[:10]!r} is not a currency of the currency seed.")
        if remove:
            return cls(kind, item_type, currency, None, None)
        confidence = form.get("min_confidence", "").strip()
        if not CONFIDENCE.match(confidence):
            raise UserError("The minimum confidence is a number from 0 to 1 with at most four decimals, like 0.95.")
        amount = form.get("max_amount", "").strip().replace(",", "")
        if not AMOUNT.match(amount):
            raise UserError("The maximum amount is an amount in the currency's major units, like 5000 or 5000.50.")
        try:
            minor = Decimal(amount) * (10 ** known[currency])
        except InvalidOperation:
            raise UserError("The maximum amount is not a number.") from None
        if minor != minor.to_integral_value():
            raise UserError(f"{currency} has {known[currency]} decimals: {amount} is finer than its minor unit.")
        return cls(kind, item_type, currency, str(Decimal(confidence)), int(minor))


def policy_vars(rules: list[PolicyChange]) -> dict[str, Any]:
    """The rules in force as the dbt var the models read: a list of plain values."""
    return {
        VAR: [
            {
                "kind": rule.kind,
                "item_type": rule.item_type,
                "currency": rule.currency,
                "min_confidence": rule.min_confidence,
                "max_amount_minor": rule.max_amount_minor,
            }
            for rule in rules
        ]
    }


@dataclass(frozen=True)
class Defaults:
    """The project's default policy (dbt_project.yml), for every type and currency without a rule."""

    match_min_confidence: Decimal
    exception_min_confidence: Decimal
    exception_amount_limit_minor: int


def project_defaults(project_dir: Path = PROJECT_DIR) -> Defaults:
    with open(project_dir / "dbt_project.yml", encoding="utf-8") as handle:
        variables = (yaml.safe_load(handle) or {}).get("vars", {})
    return Defaults(
        Decimal(str(variables["auto_match_min_confidence"])),
        Decimal(str(variables["review_min_confidence"])),
        int(variables["review_amount_limit_minor"]),
    )
