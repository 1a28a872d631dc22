"""The match scorer learns evidence weights from labelled patterns, pulled towards the priors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ml.match_scorer import FEATURES, SELECTION_FEATURES, fit_type, read_priors

PRIOR = read_priors()["charge_payment"]
BASE = {
    "amount_level": "exact",
    "days_level": "same_day",
    "email_level": "equal",
    "name_level": "equal",
    "customer_number_level": "missing",
    "stripe_id_level": "none",
    "document_level": "none",
    "method_level": "stripe",
}


def pattern(label: int, count: int, **levels: str) -> tuple[Sequence[str], int, int]:
    values = {**BASE, **levels}
    return tuple(values[f] for f in FEATURES), label, count


def test_too_few_labelled_pairs_keep_the_prior() -> None:
    fit = fit_type("charge_payment", [pattern(1, 5), pattern(0, 500, email_level="different")], PRIOR)
    assert fit.source == "prior"
    assert fit.weights == PRIOR
    assert "5 certain matches" in fit.reason


def test_weights_follow_what_the_books_show() -> None:
    """Books where the e-mail says nothing (matches and non-matches alike differ) and dates say
    much: the e-mail's weight falls from its prior, the same-day weight rises, and the features
    that selected the labels (ids, document numbers) and levels never seen keep their priors."""
    patterns = [
        pattern(1, 900, email_level="different", days_level="same_day"),
        pattern(1, 100, email_level="different", days_level="after_1"),
        pattern(0, 3000, email_level="different", days_level="after_15_31"),
        pattern(0, 200, email_level="different", days_level="same_day", amount_level="part"),
    ]
    fit = fit_type("charge_payment", patterns, PRIOR)
    assert fit.source == "learned" and fit.positives == 1000 and fit.negatives == 3200
    w = fit.weights
    assert w[("email_level", "different")] > PRIOR[("email_level", "different")]
    assert w[("days_level", "same_day")] - w[("days_level", "after_15_31")] > (
        PRIOR[("days_level", "same_day")] - PRIOR[("days_level", "after_15_31")]
    )
    for feature in SELECTION_FEATURES:
        assert all(w[key] == PRIOR[key] for key in PRIOR if key[0] == feature)
    assert w[("email_level", "missing")] == PRIOR[("email_level", "missing")]  # never seen


@pytest.mark.parametrize("days", ["same_day", "after_15_31"])
def test_learned_probabilities_separate_the_labels(days: str) -> None:
    import math

    patterns = [
        pattern(1, 500, days_level="same_day"),
        pattern(0, 500, days_level="after_15_31"),
        pattern(0, 50, days_level="same_day", email_level="different", name_level="different"),
    ]
    fit = fit_type("charge_payment", patterns, PRIOR)
    levels = {**BASE, "days_level": days}
    score = fit.weights[("intercept", "")] + sum(fit.weights[(f, levels[f])] for f in FEATURES)
    probability = 1 / (1 + math.exp(-score))
    assert (probability > 0.9) if days == "same_day" else (probability < 0.1)
