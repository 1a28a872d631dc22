"""The classifier is never worse than the rules: each training validates on a time split and, per
rule-based type, the model's values stand only where it beat the rules there (ml.gate)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from ml_support import (
    MlWarehouse,
    copy_warehouse,
    grown_history,
    labelled,
    netted_amount_mismatches,
)

from ml.classification import classify
from ml.evaluation import expected_calibration_error
from ml.features import connect, load_features
from ml.gate import ALPHA, MODEL, RULES, decide, sign_test_p, validation_periods
from ml.training import NoTimeSplitError, fit
from recon.pipeline import build_downstream

HISTORY = [202501, 202502, 202503, 202504, 202505, 202506]
CURRENT = 202507


@pytest.fixture(scope="module")
def real_features(ml_warehouse: MlWarehouse) -> pd.DataFrame:
    con = connect(ml_warehouse.settings)
    try:
        return load_features(con)
    finally:
        con.close()


def _bank_fee_books(
    features: pd.DataFrame, label_netted: Callable[[int], str], *, copies: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """A history (HISTORY) and a current period (CURRENT) grown from the real exceptions, where
    half the rule-typed amount mismatches of charges are netted by a bank charge on top of the
    fee, resolved as `label_netted(period)`; every other item resolved as the rules typed it.
    Returns (history, current, netted mask of current)."""
    grown = grown_history(features, [*HISTORY, CURRENT], copies, seed=5)
    netted = netted_amount_mismatches(grown, seed=6)
    labels = grown["rule_exception_type"].astype(str).copy()
    for period in [*HISTORY, CURRENT]:
        labels[netted & (grown["period"] == period)] = label_netted(period)
    examples = labelled(grown, labels)
    is_current = (examples["period"] == CURRENT).to_numpy()
    current = examples[is_current].reset_index(drop=True)
    return examples[~is_current].reset_index(drop=True), current, netted[is_current].reset_index(drop=True)


def _accuracy(predicted: np.ndarray[Any, Any], truth: pd.Series) -> float:
    return float(np.mean(predicted.astype(str) == truth.astype(str).to_numpy()))


# -- the decision itself ------------------------------------------------------------------------


def test_sign_test_needs_five_discordant_wins_without_a_loss() -> None:
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(4, 0) > ALPHA  # 0.0625
    assert sign_test_p(5, 0) <= ALPHA  # 0.03125
    assert sign_test_p(7, 1) <= ALPHA < sign_test_p(6, 1)  # 0.035, 0.0625
    assert sign_test_p(3, 3) > 0.5


def _validation_rows(rule: str, label: str, predicted: str, n: int) -> list[dict[str, str]]:
    disposition = {"amount_mismatch": "true_exception", "fee_variance": "expected_variance"}
    return [
        {
            "rule_exception_type": rule, "rule_disposition": disposition[rule], "rule_confidence": "0.7",
            "label_type": label, "label_disposition": disposition[label],
            "predicted_type": predicted, "predicted_disposition": disposition[predicted],
        }
    ] * n


@pytest.mark.parametrize(
    ("model_only", "rules_only", "both", "source"),
    [
        pytest.param(0, 0, 10, RULES, id="tie-rules-stand"),
        pytest.param(4, 0, 10, RULES, id="four-wins-too-few"),
        pytest.param(5, 0, 0, MODEL, id="five-wins-model"),
        pytest.param(6, 3, 5, RULES, id="wins-and-losses-not-significant"),
        pytest.param(12, 1, 5, MODEL, id="clear-win-model"),
    ],
)
def test_decide_gives_the_rules_ties_and_small_margins(model_only: int, rules_only: int, both: int, source: str) -> None:
    rows = (
        _validation_rows("amount_mismatch", "fee_variance", "fee_variance", model_only)
        + _validation_rows("amount_mismatch", "amount_mismatch", "fee_variance", rules_only)
        + _validation_rows("amount_mismatch", "amount_mismatch", "amount_mismatch", both)
    )
    validation = pd.DataFrame(rows)
    gates = decide(validation, validation)
    gate = gates["amount_mismatch"]
    assert gate.source == source
    assert (gate.model_only_right, gate.rules_only_right) == (model_only, rules_only)
    assert gate.validation_examples == model_only + rules_only + both
    # Where the rules stand, their confidence is their measured accuracy, pulled toward 0.7 by the prior.
    accuracy = (rules_only + both) / len(rows)
    assert min(accuracy, 0.7) - 1e-9 <= gate.rules_confidence <= max(accuracy, 0.7) + 1e-9


def test_validation_periods_are_the_latest_and_never_the_first() -> None:
    assert validation_periods(pd.Series([202501] * 30)) == []
    assert validation_periods(pd.Series([202501] * 30 + [202502] * 2)) == [202502]
    # The latest periods until a third of the examples, at most three.
    assert validation_periods(pd.Series([202501] * 10 + [202502] * 10 + [202503] * 10)) == [202503]
    assert validation_periods(pd.Series([202501] * 90 + [202502, 202503, 202504, 202505])) == [
        202503, 202504, 202505,
    ]
    # A large history: one period already holds enough validation items.
    assert validation_periods(pd.Series([202501] * 9_000 + [202502] * 3_000 + [202503] * 2_500)) == [202503]


# -- histories: the model misled keeps the rules; the rules overruled lets the model win --------


def test_contradictory_history_keeps_the_rules_for_that_type(real_features: pd.DataFrame) -> None:
    """Analysts resolved the netted mismatches as fee_variance in the first four months and as
    amount_mismatch since (the rules' type): a model trained on all of it is misled, the time
    split shows it, and the rules' values stand for amount_mismatch."""
    history, current, netted = _bank_fee_books(
        real_features, lambda period: "fee_variance" if period <= 202504 else "amount_mismatch"
    )
    model = fit(history, seed=1)
    gate = model.gate.types["amount_mismatch"]
    assert gate.source == RULES and gate.rules_only_right > gate.model_only_right
    assert model.gate.model_types() == []
    is_mismatch = (current["rule_exception_type"] == "amount_mismatch").to_numpy()
    misled = model.predict_ungated(current)
    # The model alone is wrong on most netted items (what the gate protects against) ...
    assert _accuracy(misled.exception_type[netted], current["label_type"][netted]) < 0.5
    used = model.predict(current)
    # ... and what is used is the rules' type, disposition and measured confidence.
    assert list(used.exception_type[is_mismatch]) == ["amount_mismatch"] * int(is_mismatch.sum())
    assert set(used.disposition[is_mismatch]) == {"true_exception"}
    assert set(used.source[is_mismatch]) == {RULES}
    assert np.allclose(used.confidence[is_mismatch], gate.rules_confidence)
    assert _accuracy(used.exception_type, current["label_type"]) == 1.0
    history_accuracy = float(np.mean(history.loc[history["rule_exception_type"] == "amount_mismatch", "label_type"]
                                     == "amount_mismatch"))
    assert abs(gate.rules_confidence - history_accuracy) < 0.05


def test_consistent_overrule_lets_the_model_win_for_that_type(real_features: pd.DataFrame) -> None:
    """Analysts always resolve the netted mismatches as fee_variance: the rules are wrong on half
    their amount_mismatch items, the model learns which, and wins that type only."""
    history, current, netted = _bank_fee_books(real_features, lambda period: "fee_variance")
    model = fit(history, seed=1)
    gate = model.gate.types["amount_mismatch"]
    assert gate.source == MODEL and gate.p_value <= ALPHA and gate.model_right > gate.rules_right
    assert model.gate.model_types() == ["amount_mismatch"]
    assert all(g.source == RULES for t, g in model.gate.types.items() if t != "amount_mismatch")
    used = model.predict(current)
    is_mismatch = (current["rule_exception_type"] == "amount_mismatch").to_numpy()
    assert set(used.source[is_mismatch]) == {MODEL} and set(used.source[~is_mismatch]) == {RULES}
    assert netted.sum() > 0 and _accuracy(used.exception_type[netted], current["label_type"][netted]) >= 0.9
    assert _accuracy(used.exception_type, current["label_type"]) > _accuracy(
        current["rule_exception_type"].to_numpy(), current["label_type"]
    )
    # Types the model did not win keep the rules' values.
    assert list(used.exception_type[~is_mismatch]) == list(current["rule_exception_type"][~is_mismatch])
    # Confidence stays calibrated: top-label calibration error on the current period.
    ece, _ = expected_calibration_error(used.confidence, used.exception_type == current["label_type"].to_numpy())
    assert ece < 0.05


def test_few_overrules_are_not_enough_to_trust_the_model(real_features: pd.DataFrame) -> None:
    """The same consistent overrule, but only three netted items resolved in the whole history:
    the validation cannot show the model better, so the rules stand."""
    history, _, _ = _bank_fee_books(real_features, lambda period: "fee_variance")
    overruled = history.index[history["label_type"] != history["rule_exception_type"]]
    assert len(overruled) > 10
    few = history.drop(overruled[:-3])
    model = fit(few, seed=1)
    gate = model.gate.types["amount_mismatch"]
    assert gate.model_only_right <= 3 and gate.source == RULES
    assert model.gate.model_types() == []


def test_one_period_of_history_is_too_short_to_validate(real_features: pd.DataFrame) -> None:
    history, _, _ = _bank_fee_books(real_features, lambda period: "fee_variance")
    with pytest.raises(NoTimeSplitError, match="period"):
        fit(history[history["period"] == 202503], seed=1)


# -- end to end: classify, the registry, the report and the mart ---------------------------------


def _rows(warehouse: Path, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse))
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_classify_records_and_reports_which_source_stands(
    ml_warehouse: MlWarehouse, real_features: pd.DataFrame, tmp_path: Path
) -> None:
    """The consistent overrule, its exceptions added to a copy of the warehouse (features as dbt
    built them, resolutions as the loader stores them): `recon classify` uses the model for
    amount_mismatch only, and the registry, the table, the report and the mart say so."""
    settings = copy_warehouse(ml_warehouse.warehouse, tmp_path / "overruled.duckdb")
    history, current, _ = _bank_fee_books(real_features, lambda period: "fee_variance")
    con = duckdb.connect(str(settings.warehouse))
    try:
        rows = pd.concat([history, current], ignore_index=True)
        rows = rows.assign(exception_date=pd.to_datetime(rows["period"].astype(str) + "15").dt.date)
        con.register("grown", rows.drop(columns=["label_type", "label_disposition"]))
        con.execute("insert into ml.ml_exception_features by name select * from grown")
        con.register("resolved", history[["object_id", "label_type", "label_disposition"]])
        con.execute(
            "insert into raw_decisions.exception_resolutions (object_id, exception_type, disposition, resolved_at, "
            "_row_fingerprint, _source, _loaded_at, _dlt_load_id) select object_id, label_type, label_disposition, "
            "timestamptz '2025-07-01 00:00:00+00', object_id, 'test', now(), 'test' from resolved"
        )
    finally:
        con.close()
    report = classify(settings, model_dir=tmp_path / "models")
    assert report.status == "classified"
    text = report.render()
    by_type = {s.rule_type: s for s in report.sources}
    assert by_type["amount_mismatch"].source == MODEL
    assert {t for t, s in by_type.items() if s.source == MODEL} == {"amount_mismatch"}
    assert "rule-based types: amount_mismatch" in text
    assert any(line.split()[:2] == ["amount_mismatch", "model"] for line in text.splitlines())
    assert any(line.split()[:2] == ["fee_variance", "rules"] for line in text.splitlines())
    [(periods, sources, metrics)] = _rows(
        settings.warehouse,
        f"select validation_periods, type_sources, metrics from ml.model_registry "
        f"where model_version = '{report.model_version}'",
    )
    sources = json.loads(sources)
    assert sources["amount_mismatch"]["source"] == MODEL
    assert sources["amount_mismatch"]["model_right"] > sources["amount_mismatch"]["rules_right"]
    assert all(v["source"] == RULES for t, v in sources.items() if t != "amount_mismatch")
    assert periods and json.loads(metrics)["validation"]["gated_type_accuracy"] >= json.loads(metrics)[
        "validation"]["rules_type_accuracy"]
    [(model_rows, other_types)] = _rows(
        settings.warehouse,
        "select count(*) filter (where c.type_source = 'model'), "
        "count(*) filter (where c.type_source = 'model' and f.rule_exception_type <> 'amount_mismatch') "
        "from ml.ml_exception_classifications as c join ml.ml_exception_features as f using (exception_id)",
    )
    assert model_rows == report.by_model > 0 and other_types == 0
    build_downstream(settings)
    [(overruled,)] = _rows(
        settings.warehouse,
        "select count(*) from marts.fct_reconciliation_exceptions "
        "where rule_exception_type = 'amount_mismatch' and exception_type = 'fee_variance' and object_id like 'grown-%'",
    )
    assert overruled > 0


def test_classify_with_one_period_of_history_lets_the_rules_stand(ml_warehouse: MlWarehouse, tmp_path: Path) -> None:
    settings = copy_warehouse(ml_warehouse.warehouse, tmp_path / "one-period.duckdb")
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(
            "delete from raw_decisions.exception_resolutions where object_id not in "
            "(select object_id from ml.ml_exception_features where period = "
            "(select min(period) from ml.ml_exception_features))"
        )
        [(left,)] = con.execute("select count(*) from raw_decisions.exception_resolutions").fetchall()
    finally:
        con.close()
    assert left >= 10  # enough to learn from, not to validate on
    report = classify(settings, model_dir=tmp_path / "models")
    assert report.status == "no_time_split" and report.cold_start
    assert "too short to validate" in report.render() and "stand for all" in report.render()
    [(rows,)] = _rows(settings.warehouse, "select count(*) from ml.ml_exception_classifications")
    assert rows == 0
