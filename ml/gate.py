"""Which source types each exception: the model or the rules, decided per rule-based type on a
time split of the history.

The key is the rule-based type (`rule_exception_type`), known for every exception at prediction
time. On the validation items of a rule type (predicted by a model trained only on earlier
periods), the model stands when it is right where the rules are wrong significantly more often
than the reverse: an exact one-sided sign test (McNemar's test on the discordant items) at
`ALPHA`, and it must not get more dispositions wrong than the rules. A tie, too few discordant
items, or no validation item at all leaves the rules' values. Where the rules stand, the
confidence is their measured accuracy on that rule type over the whole labelled history,
smoothed toward the rules' fixed certainty with `PRIOR_WEIGHT` pseudo-examples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

MODEL = "model"
RULES = "rules"

# One-sided significance of the sign test: with no item the other way, the model must be right
# on at least 5 validation items of a rule type where the rules were wrong (0.5**5 = 0.031).
ALPHA = 0.05
# The time split: the latest periods of the history are validated on, by one model trained on
# the periods before them; they are taken until they hold this share of the labelled examples or
# VALIDATION_ENOUGH of them (at most MAX_VALIDATION_PERIODS); the first period always stays for
# training. The count bounds the cost of large histories, where a few thousand validation items
# already separate the model from the rules per type.
VALIDATION_SHARE = 1 / 3
VALIDATION_ENOUGH = 2_000
MAX_VALIDATION_PERIODS = 3
# Pseudo-examples of the rules' fixed certainty in their measured accuracy (a Beta prior).
PRIOR_WEIGHT = 2.0


@dataclass(frozen=True)
class TypeGate:
    """The decision for one rule-based type and the validation figures behind it."""

    rule_type: str
    source: str  # MODEL or RULES
    validation_examples: int
    model_right: int  # validation items whose type the model got right
    rules_right: int  # ... and the rules
    model_only_right: int  # the model right, the rules wrong
    rules_only_right: int  # the rules right, the model wrong
    model_disposition_right: int
    rules_disposition_right: int
    p_value: float  # one-sided sign test on the discordant items
    history_examples: int  # labelled items of this rule type in the whole history
    rules_confidence: float  # the rules' measured type accuracy on them, smoothed
    rules_disposition_confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        if self.validation_examples == 0:
            return f"{self.rule_type}: rules (no validation item)"
        return (
            f"{self.rule_type}: {self.source} (validation: model {self.model_right}/{self.validation_examples}, "
            f"rules {self.rules_right}/{self.validation_examples}, p={self.p_value:.3f})"
        )


@dataclass(frozen=True)
class Split:
    """The time split the gate was decided on."""

    train_periods: tuple[str, ...]
    validation_periods: tuple[str, ...]
    train_examples: int
    validation_examples: int


@dataclass
class Gate:
    """Per rule-based type, the source that stands; what the registry records."""

    split: Split | None = None
    types: dict[str, TypeGate] = field(default_factory=dict)

    @property
    def validation_periods(self) -> list[str]:
        return list(self.split.validation_periods) if self.split else []

    def source_of(self, rule_type: str) -> str:
        gate = self.types.get(rule_type)
        return gate.source if gate is not None else RULES

    def model_types(self) -> list[str]:
        return sorted(t for t, g in self.types.items() if g.source == MODEL)

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": asdict(self.split) if self.split else None,
            "types": {t: g.to_dict() for t, g in sorted(self.types.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gate:
        split = data.get("split")
        return cls(
            Split(
                tuple(split["train_periods"]), tuple(split["validation_periods"]),
                split["train_examples"], split["validation_examples"],
            )
            if split
            else None,
            {t: TypeGate(**g) for t, g in data.get("types", {}).items()},
        )


def period_numbers(periods: pd.Series) -> pd.Series:
    """Periods (integers such as yyyymm) as numbers; null where there is none."""
    return pd.to_numeric(periods, errors="coerce")


def period_label(period: float) -> str:
    return str(int(period))


def validation_periods(periods: pd.Series) -> list[float]:
    """The periods validated on, oldest first: the latest ones, until they hold VALIDATION_SHARE
    of the examples or VALIDATION_ENOUGH (at most MAX_VALIDATION_PERIODS); never the first
    period. Empty when the history spans one period."""
    counts = period_numbers(periods).dropna().value_counts()
    ordered = sorted(counts.index)
    if len(ordered) < 2:
        return []
    chosen: list[float] = []
    held, total = 0, int(counts.sum())
    for period in reversed(ordered[1:]):
        chosen.append(float(period))
        held += int(counts[period])
        if held >= min(VALIDATION_SHARE * total, VALIDATION_ENOUGH) or len(chosen) == MAX_VALIDATION_PERIODS:
            break
    return sorted(chosen)


def sign_test_p(model_only: int, rules_only: int) -> float:
    """P(at least `model_only` of the discordant items go the model's way) if both were equally
    good: the exact one-sided binomial tail at 1/2."""
    n = model_only + rules_only
    if n == 0:
        return 1.0
    return float(sum(math.comb(n, k) for k in range(model_only, n + 1)) / 2**n)


def smoothed(right: int, total: int, prior: float) -> float:
    return (right + PRIOR_WEIGHT * prior) / (total + PRIOR_WEIGHT)


def decide(
    validation: pd.DataFrame,
    history: pd.DataFrame,
) -> dict[str, TypeGate]:
    """Per rule type, the source that stands.

    `validation`: one row per validation item with rule_exception_type, rule_disposition,
    label_type, label_disposition, predicted_type, predicted_disposition (the model's, from a
    model trained on earlier periods). `history`: every labelled example with
    rule_exception_type, rule_disposition, rule_confidence, label_type, label_disposition."""
    gates: dict[str, TypeGate] = {}
    for rule_type, items in history.groupby("rule_exception_type", sort=True):
        rule_type = str(rule_type)
        prior = float(pd.to_numeric(items["rule_confidence"]).astype(float).mean())
        rules_history_right = int((items["label_type"].astype(str) == rule_type).sum())
        rules_history_disposition_right = int(
            (items["label_disposition"].astype(str) == items["rule_disposition"].astype(str)).sum()
        )
        checked = validation[validation["rule_exception_type"].astype(str) == rule_type]
        label = checked["label_type"].astype(str).to_numpy()
        model_ok = checked["predicted_type"].astype(str).to_numpy() == label
        rules_ok = label == rule_type
        label_disposition = checked["label_disposition"].astype(str).to_numpy()
        model_disposition_ok = checked["predicted_disposition"].astype(str).to_numpy() == label_disposition
        rules_disposition_ok = checked["rule_disposition"].astype(str).to_numpy() == label_disposition
        model_only, rules_only = int(np.sum(model_ok & ~rules_ok)), int(np.sum(rules_ok & ~model_ok))
        p_value = sign_test_p(model_only, rules_only)
        wins = (
            model_only > rules_only
            and p_value <= ALPHA
            and int(model_disposition_ok.sum()) >= int(rules_disposition_ok.sum())
        )
        gates[rule_type] = TypeGate(
            rule_type=rule_type,
            source=MODEL if wins else RULES,
            validation_examples=len(checked),
            model_right=int(model_ok.sum()),
            rules_right=int(rules_ok.sum()),
            model_only_right=model_only,
            rules_only_right=rules_only,
            model_disposition_right=int(model_disposition_ok.sum()),
            rules_disposition_right=int(rules_disposition_ok.sum()),
            p_value=p_value,
            history_examples=len(items),
            rules_confidence=smoothed(rules_history_right, len(items), prior),
            rules_disposition_confidence=smoothed(rules_history_disposition_right, len(items), prior),
        )
    return gates
