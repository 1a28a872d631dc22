"""The exception classifier: a seeded scikit-learn pipeline with calibrated probabilities,
gated per rule-based type on a time split (ml.gate).

One model predicts `exception_type`; the disposition is the sum of the probabilities of the
types of each disposition (the contract's vocabulary gives every type one disposition), so
the two never contradict each other. Every training first validates on the latest periods of
the history with models trained on the earlier ones; for each rule-based type where the model
does not beat the rules there, the rules' type and disposition stand. Models are persisted as
files (joblib) named by their version and registered in `ml.model_registry`, with the source
of each type and the validation figures behind it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits

from core.errors import MissingRelationError, UserError
from core.settings import PROJECT_DIR
from core.vocabulary import DISPOSITION_OF_TYPE, EXPECTED_VARIANCE, TRUE_EXCEPTION
from core.warehouse import Connection, schema
from ml.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    fingerprint,
    model_inputs,
)
from ml.gate import (
    MODEL,
    RULES,
    Gate,
    Split,
    decide,
    period_label,
    period_numbers,
    validation_periods,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = PROJECT_DIR / "ml" / "models"
DEFAULT_SEED = 20250101
# Bumped when the features or the estimator change: part of every model's fingerprint.
MODEL_SPEC = (
    "exception-classifier/4 (gated per rule type on a time split; no demo-world features): "
    "ordinal+random forest(60, depth 16) calibrated temperature cv3"
)
MIN_EXAMPLES = 10


class ColdStartError(UserError):
    """No usable history: too few past resolutions to learn from."""


class NoTimeSplitError(ColdStartError):
    """The history is too short to validate a model on a later period than it learned from."""


@dataclass(frozen=True)
class Predictions:
    """Per exception: the type, its disposition and the probability of each."""

    exception_type: np.ndarray[Any, Any]
    disposition: np.ndarray[Any, Any]
    confidence: np.ndarray[Any, Any]
    disposition_confidence: np.ndarray[Any, Any]
    source: np.ndarray[Any, Any]  # per exception, MODEL or RULES: whose values these are


@dataclass
class TrainedModel:
    """A fitted pipeline with what the registry records about it."""

    version: str
    pipeline: Pipeline
    classes: list[str]
    history_fingerprint: str
    trained_at: datetime
    window_start: str | None
    window_end: str | None
    examples: int
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # (object_type, rule_exception_type) pairs of the history: on any other the rules stand.
    known_cases: frozenset[tuple[str, str]] = frozenset()
    # Per rule-based type, the source that stands (decided on the time split).
    gate: Gate = field(default_factory=Gate)

    def predict(self, frame: pd.DataFrame) -> Predictions:
        """The values used: the model's where its gate says so, else the rules'."""
        return apply_gate(self.predict_ungated(frame), frame, self.gate)

    def predict_ungated(self, frame: pd.DataFrame) -> Predictions:
        """The model's own predictions on every exception (the rules only where the history has
        nothing like it): what the gate is measured against."""
        return predict(self.pipeline, self.classes, frame, self.known_cases)


def _one_openmp_thread() -> Any:
    """OpenMP and BLAS pools of one thread: on a shared 2-core machine their busy-waiting threads
    made fits 5-10 times slower; the forest's own parallelism (joblib, n_jobs) is kept."""
    return threadpool_limits(limits=1)


def build_pipeline(seed: int = DEFAULT_SEED, *, folds: int = 3) -> Pipeline:
    """Categoricals as ordinal codes (unknown ones as missing), numeric features as they are
    (random forests handle missing values); a seeded random forest whose probabilities are
    temperature-scaled in stratified, seeded cross-validation (one forest per fold, averaged)."""
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan),
                list(CATEGORICAL_FEATURES),
            ),
            ("numeric", "passthrough", list(NUMERIC_FEATURES)),
        ],
        verbose_feature_names_out=False,
    )
    forest = RandomForestClassifier(
        n_estimators=60,
        max_depth=16,
        min_samples_leaf=2,
        max_features=0.5,
        n_jobs=2,
        random_state=seed,
    )
    calibrated = CalibratedClassifierCV(
        forest,
        method="temperature",
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
    )
    return Pipeline([("encode", encode), ("classify", calibrated)])


def _duplicate_rare(inputs: pd.DataFrame, labels: pd.Series, folds: int) -> tuple[pd.DataFrame, pd.Series]:
    """A class with fewer examples than folds is repeated so every fold sees it (deterministic)."""
    counts = labels.value_counts()
    rare = counts[counts < folds].index
    if len(rare) == 0:
        return inputs, labels
    extra = labels[labels.isin(rare)]
    repeats = [inputs.loc[extra.index]] * (folds - 1)
    return (
        pd.concat([inputs, *repeats], ignore_index=True),
        pd.concat([labels, *[extra] * (folds - 1)], ignore_index=True),
    )


def _ordered(examples: pd.DataFrame) -> pd.DataFrame:
    """The same examples in any order give the same model."""
    return examples.sort_values(["exception_id", "object_id"], kind="stable").reset_index(drop=True)


def _too_little(examples: pd.DataFrame) -> str | None:
    labels = examples["label_type"].astype(str)
    if len(examples) < MIN_EXAMPLES or labels.nunique() < 2:
        return (
            f"{len(examples)} past resolution(s) of {labels.nunique()} type(s): the classifier needs at least "
            f"{MIN_EXAMPLES} of 2 types to learn from"
        )
    return None


def _fit_pipeline(examples: pd.DataFrame, seed: int) -> tuple[Pipeline, list[str]]:
    inputs = model_inputs(examples).reset_index(drop=True)
    labels = examples["label_type"].astype(str).reset_index(drop=True)
    folds = 3
    inputs, labels = _duplicate_rare(inputs, labels, folds)
    pipeline = build_pipeline(seed, folds=folds)
    with _one_openmp_thread():
        pipeline.fit(inputs, labels)
    return pipeline, [str(c) for c in pipeline.classes_]


def validate(examples: pd.DataFrame, *, seed: int = DEFAULT_SEED) -> tuple[Gate, pd.DataFrame]:
    """The time split: a model trained on the earlier periods predicts the latest ones
    (ml.gate.validation_periods); per rule-based type, the gate decides which source stands.
    Returns the gate and the validation items with the model's predictions. Raises
    NoTimeSplitError when there is no later period, or too little history before it."""
    examples = _ordered(examples)
    period = period_numbers(examples["period"])
    held_periods = validation_periods(examples["period"])
    earlier = examples[period < held_periods[0]] if held_periods else examples.iloc[0:0]
    reason = _too_little(earlier)
    if not held_periods or reason is not None:
        spanned = period.dropna().nunique()
        raise NoTimeSplitError(
            f"{len(examples)} past resolution(s) over {spanned} period(s): no later period with enough history "
            f"before it to validate a model on (at least {MIN_EXAMPLES} resolutions of 2 types earlier)"
        )
    held = examples[period.isin(held_periods)]
    pipeline, classes = _fit_pipeline(earlier, seed)
    raw = predict(pipeline, classes, held, known_cases(earlier))
    validation = held.assign(predicted_type=raw.exception_type, predicted_disposition=raw.disposition)
    split = Split(
        train_periods=tuple(period_label(p) for p in sorted(period[period < held_periods[0]].dropna().unique())),
        validation_periods=tuple(period_label(p) for p in held_periods),
        train_examples=len(earlier),
        validation_examples=len(held),
    )
    return Gate(split, decide(validation, examples)), validation.reset_index(drop=True)


def fit(examples: pd.DataFrame, *, seed: int = DEFAULT_SEED) -> TrainedModel:
    """Validates on a time split (the gate), then trains on all labelled examples (features
    plus `label_type`). Raises ColdStartError when there is too little to learn from, and
    NoTimeSplitError (one of them) when the history is too short to validate on."""
    examples = _ordered(examples)
    reason = _too_little(examples)
    if reason is not None:
        raise ColdStartError(reason + ".")
    started = time.monotonic()
    gate, validation = validate(examples, seed=seed)
    pipeline, classes = _fit_pipeline(examples, seed)
    digest = fingerprint(examples, MODEL_SPEC + f"|seed={seed}|sklearn={sklearn.__version__}")
    periods = sorted(period_numbers(examples["period"]).dropna().unique())
    model = TrainedModel(
        version=f"exc-{digest[:12]}",
        pipeline=pipeline,
        classes=classes,
        history_fingerprint=digest,
        trained_at=datetime.now(UTC).replace(microsecond=0),
        window_start=period_label(periods[0]) if periods else None,
        window_end=period_label(periods[-1]) if periods else None,
        examples=len(examples),
        known_cases=known_cases(examples),
        gate=gate,
    )
    model.seconds = time.monotonic() - started
    train_predictions = model.predict(examples)
    model.metrics = {
        "note": (
            "train_*: in-sample, on the training examples; validation: the time split the gate was decided on; "
            "`recon classify --evaluate` gives figures on periods neither saw"
        ),
        "examples_by_type": {str(k): int(v) for k, v in examples["label_type"].value_counts().sort_index().items()},
        "train_type_accuracy": float(np.mean(train_predictions.exception_type == examples["label_type"].to_numpy())),
        "train_disposition_accuracy": float(
            np.mean(train_predictions.disposition == examples["label_disposition"].to_numpy())
        ),
        "train_seconds": round(model.seconds, 3),
        "validation": validation_metrics(validation, gate),
        "type_sources": {t: g.source for t, g in sorted(gate.types.items())},
    }
    log.info(
        "trained %s on %d examples in %.1f s; the model stands for %s",
        model.version, len(examples), model.seconds, ", ".join(gate.model_types()) or "no rule type",
    )
    return model


def validation_metrics(validation: pd.DataFrame, gate: Gate) -> dict[str, Any]:
    """Accuracy of the model, the rules and the gated values on the validation items."""
    label = validation["label_type"].astype(str).to_numpy()
    label_disposition = validation["label_disposition"].astype(str).to_numpy()
    rule_type = validation["rule_exception_type"].astype(str).to_numpy()
    use_model = np.array([gate.source_of(t) == MODEL for t in rule_type], dtype=bool)
    model_type = validation["predicted_type"].astype(str).to_numpy()
    model_disposition = validation["predicted_disposition"].astype(str).to_numpy()
    rule_disposition = validation["rule_disposition"].astype(str).to_numpy()
    gated_type = np.where(use_model, model_type, rule_type)
    gated_disposition = np.where(use_model, model_disposition, rule_disposition)

    def share(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
        return round(float(np.mean(a == b)), 6) if len(a) else 0.0

    return {
        "periods": gate.validation_periods,
        "examples": len(validation),
        "model_type_accuracy": share(model_type, label),
        "rules_type_accuracy": share(rule_type, label),
        "gated_type_accuracy": share(gated_type, label),
        "model_disposition_accuracy": share(model_disposition, label_disposition),
        "rules_disposition_accuracy": share(rule_disposition, label_disposition),
        "gated_disposition_accuracy": share(gated_disposition, label_disposition),
    }


def apply_gate(raw: Predictions, frame: pd.DataFrame, gate: Gate) -> Predictions:
    """The model's values for the exceptions whose rule-based type the model won on the time
    split; the rules' type and disposition for the others, with the rules' measured accuracy
    on that type as confidence (their fixed certainty where the history has none)."""
    if len(frame) == 0:
        return raw
    rule_type = frame["rule_exception_type"].astype(str).to_numpy()
    use_model = np.array([gate.source_of(t) == MODEL for t in rule_type], dtype=bool) & (raw.source == MODEL)
    fixed = pd.to_numeric(frame["rule_confidence"]).astype(float).to_numpy()
    measured = np.array(
        [gate.types[t].rules_confidence if t in gate.types else f for t, f in zip(rule_type, fixed, strict=True)]
    )
    measured_disposition = np.array(
        [
            gate.types[t].rules_disposition_confidence if t in gate.types else f
            for t, f in zip(rule_type, fixed, strict=True)
        ]
    )
    return Predictions(
        exception_type=np.where(use_model, raw.exception_type, rule_type).astype(object),
        disposition=np.where(use_model, raw.disposition, frame["rule_disposition"].astype(str).to_numpy()).astype(
            object
        ),
        confidence=np.where(use_model, raw.confidence, measured),
        disposition_confidence=np.where(use_model, raw.disposition_confidence, measured_disposition),
        source=np.where(use_model, MODEL, RULES).astype(object),
    )


def known_cases(frame: pd.DataFrame) -> frozenset[tuple[str, str]]:
    """The (object_type, rule_exception_type) pairs of a frame."""
    return frozenset(known_cases_of(frame))


def predict(
    pipeline: Pipeline, classes: list[str], frame: pd.DataFrame, known: frozenset[tuple[str, str]] | None = None
) -> Predictions:
    """Type = the most probable type of the more probable disposition; confidence = its probability.

    An exception unlike every one of the history (its object type and rule-based type never
    seen together, e.g. in-transit payouts at the data's end) keeps the rule-based type,
    disposition and confidence: a model is not trusted where it has nothing to go on."""
    if len(frame) == 0:
        empty = np.array([], dtype=object)
        return Predictions(empty, empty, np.array([], dtype=float), np.array([], dtype=float), empty)
    with _one_openmp_thread():
        probabilities = np.asarray(pipeline.predict_proba(model_inputs(frame)), dtype=float)
    is_expected = np.array([DISPOSITION_OF_TYPE.get(c) == EXPECTED_VARIANCE for c in classes])
    expected_share = probabilities[:, is_expected].sum(axis=1)
    disposition_is_expected = expected_share > 0.5
    masked = np.where(disposition_is_expected[:, None] == is_expected[None, :], probabilities, -1.0)
    best = masked.argmax(axis=1)
    class_array = np.array(classes, dtype=object)
    exception_type = class_array[best]
    disposition = np.where(disposition_is_expected, EXPECTED_VARIANCE, TRUE_EXCEPTION).astype(object)
    confidence = np.clip(probabilities[np.arange(len(frame)), best], 0.0, 1.0)
    disposition_confidence = np.where(disposition_is_expected, expected_share, 1.0 - expected_share)
    source = np.full(len(frame), MODEL, dtype=object)
    if known is not None:
        unknown = ~np.array([case in known for case in known_cases_of(frame)])
        if unknown.any():
            log.info("%d exception(s) unlike any in the history keep the rule-based values", int(unknown.sum()))
            rule_confidence = pd.to_numeric(frame["rule_confidence"]).astype(float).to_numpy()
            exception_type = np.where(unknown, frame["rule_exception_type"].astype(str).to_numpy(), exception_type)
            disposition = np.where(unknown, frame["rule_disposition"].astype(str).to_numpy(), disposition)
            confidence = np.where(unknown, rule_confidence, confidence)
            disposition_confidence = np.where(unknown, rule_confidence, disposition_confidence)
            source = np.where(unknown, RULES, source).astype(object)
    return Predictions(exception_type, disposition, confidence, disposition_confidence, source)


def known_cases_of(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["object_type"].astype(str), frame["rule_exception_type"].astype(str), strict=True))


# -- persistence: a file per version and a row in ml.model_registry --------------------------

REGISTRY_DDL = (
    "create table if not exists {table} ("
    "model_version varchar primary key, trained_at timestamp, history_fingerprint varchar, "
    "training_window_start varchar, training_window_end varchar, training_examples bigint, "
    "metrics json, model_path varchar, sklearn_version varchar, model_spec varchar, "
    "validation_periods varchar, type_sources json)"
)
# Columns added since the first registry: a registry written by an older version gains them.
REGISTRY_ADDED_COLUMNS = (("validation_periods", "varchar"), ("type_sources", "json"))
REGISTRY_COLUMNS = (
    "model_version, trained_at, history_fingerprint, training_window_start, training_window_end, "
    "training_examples, metrics, model_path, sklearn_version, model_spec, validation_periods, type_sources"
)


def registry_table() -> str:
    return f"{schema('ml')}.model_registry"


def save(model: TrainedModel, con: Connection, model_dir: Path) -> Path:
    """Writes the model file and its registry row (replacing a row of the same version)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{model.version}.joblib"
    # Written beside, then renamed: another process loading this version never reads half a file.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    joblib.dump(
        {
            "pipeline": model.pipeline,
            "classes": model.classes,
            "spec": MODEL_SPEC,
            "known_cases": model.known_cases,
            "gate": model.gate.to_dict(),
        },
        partial,
    )
    os.replace(partial, path)
    con.execute(f"create schema if not exists {schema('ml')}")
    con.execute(REGISTRY_DDL.format(table=registry_table()))
    for column, kind in REGISTRY_ADDED_COLUMNS:
        con.execute(f"alter table {registry_table()} add column if not exists {column} {kind}")
    con.execute(f"delete from {registry_table()} where model_version = ?", [model.version])
    con.execute(
        f"insert into {registry_table()} ({REGISTRY_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            model.version,
            model.trained_at.replace(tzinfo=None),
            model.history_fingerprint,
            model.window_start,
            model.window_end,
            model.examples,
            json.dumps(model.metrics, sort_keys=True),
            str(path),
            sklearn.__version__,
            MODEL_SPEC,
            ",".join(model.gate.validation_periods),
            json.dumps(model.gate.to_dict()["types"], sort_keys=True),
        ],
    )
    return path


def load_registered(con: Connection, digest: str, model_dir: Path) -> TrainedModel | None:
    """The registered model trained on exactly this history, when its file is still there."""
    try:
        rows = con.rows(
            f"select model_version, trained_at, training_window_start, training_window_end, training_examples, "
            f"metrics from {registry_table()} where history_fingerprint = ? order by trained_at desc limit 1",
            [digest],
        )
    except MissingRelationError:
        return None
    if not rows:
        return None
    version, trained_at, start, end, examples, metrics = rows[0]
    path = model_dir / f"{version}.joblib"
    if not path.exists():
        log.info("model %s is registered but its file %s is gone: retraining", version, path)
        return None
    try:
        stored = joblib.load(path)
    except Exception as error:  # a corrupt or incompatible file is retrained, not fatal
        log.warning("model file %s cannot be read (%s): retraining", path, error)
        return None
    if stored.get("spec") != MODEL_SPEC:
        return None
    return TrainedModel(
        version=str(version),
        pipeline=stored["pipeline"],
        classes=list(stored["classes"]),
        history_fingerprint=digest,
        trained_at=trained_at,
        window_start=start,
        window_end=end,
        examples=int(examples),
        metrics=json.loads(metrics) if isinstance(metrics, str) else dict(metrics or {}),
        known_cases=frozenset(stored.get("known_cases", ())),
        gate=Gate.from_dict(stored.get("gate", {})),
    )


def history_digest(examples: pd.DataFrame, seed: int = DEFAULT_SEED) -> str:
    """The fingerprint a model trained on these examples would have."""
    return fingerprint(_ordered(examples), MODEL_SPEC + f"|seed={seed}|sklearn={sklearn.__version__}")


__all__ = [
    "DEFAULT_MODEL_DIR",
    "DEFAULT_SEED",
    "ColdStartError",
    "NoTimeSplitError",
    "Predictions",
    "TrainedModel",
    "build_pipeline",
    "fit",
    "history_digest",
    "load_registered",
    "predict",
    "save",
    "validate",
]
