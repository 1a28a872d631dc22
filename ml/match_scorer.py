"""The match scorer: weights for the evidence of a candidate pair, learned from the books in front of it.

dbt's `int_match_pairs_candidate` gives every candidate pair (a Stripe charge or refund and an
ERP payment, found by blocking) its evidence as levels: how the amounts compare, days apart,
e-mail, name, customer number, Stripe id, document number, payment method.
`int_match_training_patterns` counts the pairs of each combination of levels with a label the
books themselves give: 1 for a pair the analysts' rules found by an id or a document number (and
no other certain pair claims its payment) or a person confirmed; 0 for a pair a person rejected
and for the other candidates of a certainly matched item or payment.

`learn(settings)` fits, per match type, a logistic regression on those counts: one weight per
level, pulled towards the seed `match_scorer_prior_weights` (a penalty on the distance from the
prior, not from zero), so a level the books barely show keeps its prior weight and one they show
often gets the weight they say. It writes the weights to `ml.match_scorer_weights`, which
`int_match_pairs_scored` applies in SQL (a pair's score is the intercept plus its levels'
weights, its confidence the logistic of the score), and records the run in
`ml.match_scorer_runs`. With too few labelled pairs of a type, that type keeps the prior.
The work is on aggregated patterns (a few thousand rows whatever the size of the books).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.optimize import minimize

from core.errors import MissingRelationError, UserError
from core.settings import PROJECT_DIR, Settings
from core.warehouse import Connection, schema

log = logging.getLogger(__name__)

FEATURES: tuple[str, ...] = (
    "amount_level",
    "days_level",
    "email_level",
    "name_level",
    "customer_number_level",
    "stripe_id_level",
    "document_level",
    "method_level",
)
# The certain matches the scorer learns from were found by a Stripe id or a document number, so
# those two features would look decisive to it (every positive has one, few negatives do): their
# weights stay the prior's, and the others are learned without them.
SELECTION_FEATURES: tuple[str, ...] = ("stripe_id_level", "document_level")
LEARNED_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in SELECTION_FEATURES)
MATCH_TYPES: tuple[str, ...] = ("charge_payment", "refund_payment")
PRIOR_SEED = PROJECT_DIR / "seeds" / "match_scorer_prior_weights.csv"
# Fewer labelled pairs of either class than this: the prior stands for the match type.
MIN_LABELLED = 10
# Strength of the pull towards the prior (an L2 penalty on weight - prior, per unit of weight).
PRIOR_STRENGTH = 2.0
# dbt selector of the models that read the weights: rebuilt after learning.
DOWNSTREAM_SELECTOR = "int_match_pairs_scored+"

Weights = dict[tuple[str, str], float]  # (feature, level) -> log-odds; ("intercept", "") too


@dataclass
class TypeFit:
    """What learning did for one match type."""

    match_type: str
    positives: int
    negatives: int
    source: str  # "learned" or "prior"
    weights: Weights
    log_loss: float | None = None
    reason: str = ""


@dataclass
class ScorerReport:
    fits: list[TypeFit] = field(default_factory=list)
    seconds: float = 0.0
    changed: bool = False

    def render(self) -> str:
        lines = []
        for fit in self.fits:
            if fit.source == "learned":
                lines.append(
                    f"  {fit.match_type:<16} learned from {fit.positives:,} certain matches and "
                    f"{fit.negatives:,} non-matches (log loss {fit.log_loss:.3f})"
                )
            else:
                lines.append(f"  {fit.match_type:<16} prior weights stand: {fit.reason}")
        head = f"Match scorer: {len(self.fits)} match type(s) in {self.seconds:.1f} s"
        return "\n".join([head, *lines])


def read_priors(path: Any = PRIOR_SEED) -> dict[str, Weights]:
    """The seed's prior weights per match type."""
    priors: dict[str, Weights] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            priors.setdefault(row["match_type"], {})[(row["feature"], row["level"] or "")] = float(row["weight"])
    return priors


def fit_type(
    match_type: str,
    patterns: Sequence[tuple[Sequence[str], int, int]],
    prior: Weights,
    *,
    strength: float = PRIOR_STRENGTH,
    min_labelled: int = MIN_LABELLED,
) -> TypeFit:
    """Fits one match type's weights on (levels, label, count) patterns, pulled towards `prior`."""
    positives = sum(count for _, label, count in patterns if label == 1)
    negatives = sum(count for _, label, count in patterns if label == 0)
    if positives < min_labelled or negatives < min_labelled:
        return TypeFit(
            match_type, positives, negatives, "prior", dict(prior),
            reason=f"{positives:,} certain matches and {negatives:,} non-matches (at least {min_labelled} of each needed)",
        )
    columns: list[tuple[str, str]] = [("intercept", "")]
    learned = [(i, feature) for i, feature in enumerate(FEATURES) if feature in LEARNED_FEATURES]
    seen = sorted({(feature, levels[i]) for levels, _, _ in patterns for i, feature in learned})
    columns += seen
    index = {column: i for i, column in enumerate(columns)}
    design = np.zeros((len(patterns), len(columns)))
    design[:, 0] = 1.0
    for row, (levels, _, _) in enumerate(patterns):
        for i, feature in learned:
            design[row, index[(feature, levels[i])]] = 1.0
    labels = np.array([label for _, label, _ in patterns], dtype=float)
    counts = np.array([count for _, _, count in patterns], dtype=float)
    start = np.array([prior.get(column, 0.0) for column in columns])
    total = counts.sum()

    def objective(w: np.ndarray[Any, Any]) -> tuple[float, np.ndarray[Any, Any]]:
        z = design @ w
        # log(1 + e^z) - y z, stable
        loss = np.sum(counts * (np.logaddexp(0.0, z) - labels * z)) / total
        p = 1.0 / (1.0 + np.exp(-z))
        grad = design.T @ (counts * (p - labels)) / total
        diff = w - start
        diff[0] = 0.0  # the intercept is free: the share of matches among candidates is the books'
        penalty = strength * np.sum(diff**2) / total
        return float(loss + penalty), grad + 2.0 * strength * diff / total

    result = minimize(objective, start, jac=True, method="L-BFGS-B")
    weights = dict(prior)
    weights.update({column: float(value) for column, value in zip(columns, result.x, strict=True)})
    z = design @ result.x
    log_loss = float(np.sum(counts * (np.logaddexp(0.0, z) - labels * z)) / total)
    return TypeFit(match_type, positives, negatives, "learned", weights, log_loss=log_loss)


def learn(settings: Settings) -> ScorerReport:
    """Reads the training patterns, fits each match type and writes `ml.match_scorer_weights`."""
    started = time.monotonic()
    priors = read_priors()
    rows = _query(
        settings,
        f"select match_type, {', '.join(FEATURES)}, label, pair_count "
        f"from {schema('matching')}.int_match_training_patterns",
    )
    by_type: dict[str, list[tuple[Sequence[str], int, int]]] = {}
    for row in rows:
        by_type.setdefault(str(row[0]), []).append(
            (tuple(str(v) for v in row[1 : 1 + len(FEATURES)]), int(row[-2]), int(row[-1]))
        )
    report = ScorerReport()
    for match_type in MATCH_TYPES:
        prior = priors.get(match_type)
        if prior is None:
            raise UserError(f"The seed {PRIOR_SEED.name} has no prior weights for {match_type}: add them.")
        report.fits.append(fit_type(match_type, by_type.get(match_type, []), prior))
    report.changed = _write(settings, report.fits)
    report.seconds = time.monotonic() - started
    return report


def fingerprint(fits: Sequence[TypeFit]) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for fit in fits:
        for (feature, level), weight in sorted(fit.weights.items()):
            digest.update(f"{fit.match_type}|{feature}|{level}|{weight:.6f};".encode())
    return digest.hexdigest()


def _weight_rows(fits: Sequence[TypeFit]) -> list[tuple[str, str, str, float]]:
    rows = []
    for fit in fits:
        for (feature, level), weight in sorted(fit.weights.items()):
            if not math.isfinite(weight):
                raise UserError(f"The match scorer learned a weight that is not a number for {feature}={level}.")
            rows.append((fit.match_type, feature, level, round(weight, 6)))
    return rows


def _write(settings: Settings, fits: Sequence[TypeFit]) -> bool:
    """Replaces the weights table (only the learned types' rows) and appends a run; True when the
    weights differ from the ones stored."""
    ml = schema("ml")
    new_print = fingerprint(fits)
    learned = [fit for fit in fits if fit.source == "learned"]
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    statements: list[tuple[str, Sequence[Sequence[Any]] | None]] = [
        (f"create schema if not exists {ml}", None),
        (
            f"create table if not exists {ml}.match_scorer_runs (fitted_at timestamp not null, "
            "match_type varchar not null, source varchar not null, positives bigint not null, "
            "negatives bigint not null, log_loss double precision, weights_fingerprint varchar not null, "
            "reason varchar)",
            None,
        ),
        (
            f"create table if not exists {ml}.match_scorer_weights (match_type varchar not null, "
            "feature varchar not null, level varchar not null, weight numeric(12, 6) not null)",
            None,
        ),
    ]
    previous = _query(
        settings,
        f"select weights_fingerprint from {ml}.match_scorer_runs order by fitted_at desc limit 1",
        missing_ok=True,
    )
    statements += [
        (f"delete from {ml}.match_scorer_weights", None),
        (
            f"insert into {ml}.match_scorer_weights (match_type, feature, level, weight) values (?, ?, ?, ?)",
            _weight_rows(learned),
        ),
        (
            f"insert into {ml}.match_scorer_runs (fitted_at, match_type, source, positives, negatives, log_loss, "
            "weights_fingerprint, reason) values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (now, fit.match_type, fit.source, fit.positives, fit.negatives, fit.log_loss, new_print, fit.reason)
                for fit in fits
            ],
        ),
    ]
    _execute(settings, statements)
    return not previous or previous[0][0] != new_print


def _query(settings: Settings, sql: str, *, missing_ok: bool = False) -> list[tuple[Any, ...]]:
    with Connection.open(settings) as connection:
        try:
            return connection.rows(sql)
        except MissingRelationError as error:  # not built, or (missing_ok) not written yet
            if missing_ok:
                return []
            raise UserError(
                f"The match scorer cannot read its training patterns ({error}): run `dbt build` first."
            ) from None


def _execute(settings: Settings, statements: Sequence[tuple[str, Sequence[Sequence[Any]] | None]]) -> None:
    with Connection.open(settings) as connection, connection.transaction():
        for sql, rows in statements:
            if rows is None:
                connection.execute(sql)
            else:
                for row in rows:
                    connection.execute(sql, row)
