"""`recon classify`: train (or reuse) the exception classifier and write its classifications.

`classify(settings)` writes `ml.ml_exception_classifications` (exception_id, exception_type,
disposition, confidence, model_version, classified_at, type_source) into the warehouse of the
target (DuckDB or PostgreSQL):
per rule-based type, the model's values where it beat the rules on the time split (ml.gate),
else the rules' values with their measured accuracy as confidence. The models
downstream of it (`DOWNSTREAM_SELECTOR`, the exceptions mart) then take the classifier's values
over the rule-based ones: `recon.pipeline.build_downstream(settings)` rebuilds them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core.settings import Settings
from core.warehouse import Connection, schema
from ml.evaluation import TYPE_WIDTH
from ml.features import connect, label_examples, load_features, load_resolutions
from ml.training import (
    DEFAULT_MODEL_DIR,
    DEFAULT_SEED,
    ColdStartError,
    NoTimeSplitError,
    TrainedModel,
    fit,
    history_digest,
    load_registered,
    save,
)

log = logging.getLogger(__name__)

# dbt selector of the models that read the classifications: rebuild them after classify.
DOWNSTREAM_SELECTOR = "stg_ml__exception_classifications+"

# Created once and then emptied and refilled, never replaced: on PostgreSQL the staging view over
# it (stg_ml__exception_classifications) depends on it and a drop would fail.
_TABLE_DDL = (
    "create table if not exists {table} (exception_id varchar primary key, exception_type varchar not null, "
    "disposition varchar not null, confidence double precision not null, model_version varchar not null, "
    "classified_at timestamp not null, type_source varchar not null)"
)
_COLUMNS = (
    "exception_id", "exception_type", "disposition", "confidence", "model_version", "classified_at", "type_source",
)


def classifications_table() -> str:
    return f"{schema('ml')}.ml_exception_classifications"


@dataclass(frozen=True)
class TypeSource:
    """One rule-based type: the source that stands, the validation figures behind it, and how
    many exceptions of this run have that rule-based type."""

    rule_type: str
    source: str
    validation_examples: int
    model_right: int
    rules_right: int
    p_value: float
    exceptions: int

    def render(self) -> str:
        if self.validation_examples == 0:
            figures = "no validation item"
        else:
            n = self.validation_examples
            figures = f"model {self.model_right}/{n}, rules {self.rules_right}/{n}, p={self.p_value:.3f}"
        return f"  {self.rule_type:{TYPE_WIDTH}}{self.source:7}{self.exceptions:>8,}   {figures}"


@dataclass(frozen=True)
class ClassifyReport:
    """What `classify` did, for the command's output."""

    status: str  # "classified", "cold_start" or "no_time_split"
    exceptions: int
    training_examples: int
    model_version: str | None = None
    trained: bool = False
    training_window: tuple[str | None, str | None] = (None, None)
    changed_type: int = 0
    changed_disposition: int = 0
    expected_variance: int = 0
    seconds: float = 0.0
    reason: str = ""
    validation_periods: tuple[str, ...] = ()
    sources: tuple[TypeSource, ...] = ()
    by_model: int = 0  # exceptions whose values are the model's

    @property
    def cold_start(self) -> bool:
        return self.status in ("cold_start", "no_time_split")

    def render(self) -> str:
        if self.status == "cold_start":
            return (
                f"Classifier: nothing to learn from ({self.reason}); the rule-based types and dispositions "
                f"stand for all {self.exceptions:,} exceptions."
            )
        if self.status == "no_time_split":
            return (
                f"Classifier: the history is too short to validate a model on ({self.reason}); the rule-based "
                f"types and dispositions stand for all {self.exceptions:,} exceptions."
            )
        how = "trained" if self.trained else "reused"
        start, end = self.training_window
        won = [s.rule_type for s in self.sources if s.source == "model"]
        lines = [
            f"Classifier {self.model_version} ({how}; {self.training_examples:,} past resolutions, periods "
            f"{start} to {end}, validated on {', '.join(self.validation_periods)}) classified "
            f"{self.exceptions:,} exceptions in {self.seconds:.1f} s: {self.expected_variance:,} expected variance; "
            f"type differs from the rules' on {self.changed_type:,}, disposition on {self.changed_disposition:,}.",
            f"The model's values stand for {self.by_model:,} exceptions (rule-based types: {', '.join(won) or 'none'}), "
            f"the rules' for {self.exceptions - self.by_model:,}. Per rule-based type, on the time split:",
            f"  {'rule-based type':{TYPE_WIDTH}}{'source':7}{'items':>8}   validation (type right of n; sign test)",
            *(s.render() for s in self.sources),
        ]
        return "\n".join(lines)


def _python(value: Any) -> Any:
    """A frame's value as the database drivers take it (numpy and pandas scalars are not Python's)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def _write(con: Connection, frame: pd.DataFrame) -> None:
    table = classifications_table()
    con.execute(f"create schema if not exists {schema('ml')}")
    with con.transaction():
        con.execute(_TABLE_DDL.format(table=table))
        # A table written before type_source existed (an older recon) gains it.
        con.execute(f"alter table {table} add column if not exists type_source varchar")
        con.execute(f"delete from {table}")
        if len(frame):
            records = frame[list(_COLUMNS)].itertuples(index=False)
            con.insert(table, _COLUMNS, [tuple(_python(value) for value in record) for record in records])


def obtain_model(
    con: Connection,
    examples: pd.DataFrame,
    *,
    retrain: bool,
    model_dir: Path,
    seed: int = DEFAULT_SEED,
) -> tuple[TrainedModel, bool]:
    """The registered model for this history, else a newly trained and registered one."""
    if not retrain:
        model = load_registered(con, history_digest(examples, seed), model_dir)
        if model is not None:
            log.info("reusing model %s (history unchanged)", model.version)
            return model, False
    model = fit(examples, seed=seed)
    save(model, con, model_dir)
    return model, True


def classify(
    settings: Settings,
    *,
    retrain: bool = False,
    model_dir: Path | None = None,
    seed: int = DEFAULT_SEED,
) -> ClassifyReport:
    """Classifies every exception of the warehouse and writes ml.ml_exception_classifications.

    Retrains when `retrain` or when the history (past resolutions and their features) changed
    since the registered model, else reuses it. With no history (cold start) it writes an empty
    table, so the rule-based values stand. Open after dbt finished (DuckDB: one writer).
    """
    started = time.monotonic()
    model_dir = model_dir or DEFAULT_MODEL_DIR
    con = connect(settings)
    try:
        features = load_features(con)
        examples = label_examples(features, load_resolutions(con))
        try:
            model, trained = obtain_model(con, examples, retrain=retrain, model_dir=model_dir, seed=seed)
        except ColdStartError as error:
            _write(con, pd.DataFrame())
            log.info("cold start: %s", error)
            return ClassifyReport(
                status="no_time_split" if isinstance(error, NoTimeSplitError) else "cold_start",
                exceptions=len(features),
                training_examples=len(examples),
                seconds=time.monotonic() - started,
                reason=str(error),
            )
        predictions = model.predict(features)
        frame = pd.DataFrame(
            {
                "exception_id": features["exception_id"].astype(str),
                "exception_type": predictions.exception_type.astype(str),
                "disposition": predictions.disposition.astype(str),
                "confidence": predictions.confidence.round(4),
                "model_version": model.version,
                "classified_at": datetime.now(UTC).replace(microsecond=0, tzinfo=None),
                "type_source": predictions.source.astype(str),
            }
        )
        _write(con, frame)
    finally:
        con.close()
    items = features["rule_exception_type"].astype(str).value_counts()
    rule_types = sorted(set(model.gate.types) | set(items.index))
    sources = tuple(
        TypeSource(
            rule_type=t,
            source=gate.source if (gate := model.gate.types.get(t)) else "rules",
            validation_examples=gate.validation_examples if gate else 0,
            model_right=gate.model_right if gate else 0,
            rules_right=gate.rules_right if gate else 0,
            p_value=gate.p_value if gate else 1.0,
            exceptions=int(items.get(t, 0)),
        )
        for t in rule_types
    )
    return ClassifyReport(
        status="classified",
        exceptions=len(features),
        training_examples=len(examples),
        model_version=model.version,
        trained=trained,
        training_window=(model.window_start, model.window_end),
        changed_type=int((frame["exception_type"] != features["rule_exception_type"].astype(str)).sum()),
        changed_disposition=int((frame["disposition"] != features["rule_disposition"].astype(str)).sum()),
        expected_variance=int((frame["disposition"] == "expected_variance").sum()),
        seconds=time.monotonic() - started,
        validation_periods=tuple(model.gate.validation_periods),
        sources=sources,
        by_model=int((frame["type_source"] == "model").sum()),
    )

