"""The exception classifier on a real demo warehouse: table and registry written, reuse and
retraining, determinism, cold start, the review policy's dbt vars, and the time-split evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from ml_support import MlWarehouse, copy_warehouse

from ml.classification import classify
from ml.evaluation import evaluate_classifier
from ml.features import connect, label_examples, load_features, load_resolutions
from ml.training import fit
from recon.pipeline import build_downstream


def _rows(warehouse: Path, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse))
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def classified(ml_warehouse: MlWarehouse, tmp_path_factory: pytest.TempPathFactory) -> tuple[MlWarehouse, Path, Any]:
    model_dir = tmp_path_factory.mktemp("models")
    report = classify(ml_warehouse.settings, model_dir=model_dir)
    build_downstream(ml_warehouse.settings)
    return ml_warehouse, model_dir, report


def test_classify_writes_table_registry_and_file(classified: tuple[MlWarehouse, Path, Any]) -> None:
    ml, model_dir, report = classified
    assert report.status == "classified" and report.trained
    assert report.model_version in report.render()
    [(exceptions,)] = _rows(ml.warehouse, "select count(*) from ml.ml_exception_features")
    [(rows, versions, low, high)] = _rows(
        ml.warehouse,
        "select count(*), count(distinct model_version), min(confidence), max(confidence) "
        "from ml.ml_exception_classifications",
    )
    assert rows == exceptions == report.exceptions > 0
    assert versions == 1 and 0 <= low <= high <= 1
    [(version, start, end, examples, metrics, path)] = _rows(
        ml.warehouse,
        "select model_version, training_window_start, training_window_end, training_examples, metrics, model_path "
        "from ml.model_registry",
    )
    assert version == report.model_version and start <= end and examples == report.training_examples > 0
    assert "train_type_accuracy" in metrics and "validation" in metrics
    assert Path(path).parent == model_dir and Path(path).exists()
    # The mart takes the classifier's values.
    [(classified_rows, mismatched)] = _rows(
        ml.warehouse,
        "select count(*) filter (where m.model_version is not null), "
        "count(*) filter (where m.exception_type <> c.exception_type or m.confidence <> round(c.confidence, 4)) "
        "from marts.fct_reconciliation_exceptions as m "
        "left join ml.ml_exception_classifications as c using (exception_id)",
    )
    assert classified_rows == exceptions and mismatched == 0


def test_classify_reuses_the_model_until_asked_or_the_history_changes(
    classified: tuple[MlWarehouse, Path, Any], tmp_path: Path
) -> None:
    ml, model_dir, first = classified
    again = classify(ml.settings, model_dir=model_dir)
    assert not again.trained and again.model_version == first.model_version
    retrained = classify(ml.settings, model_dir=model_dir, retrain=True)
    assert retrained.trained and retrained.model_version == first.model_version  # same history, same model
    copy = copy_warehouse(ml.warehouse, tmp_path / "changed.duckdb")
    con = duckdb.connect(str(copy.warehouse))
    con.execute(
        "delete from raw_decisions.exception_resolutions where object_id = "
        "(select min(object_id) from raw_decisions.exception_resolutions)"
    )
    con.close()
    changed = classify(copy, model_dir=model_dir)
    assert changed.trained and changed.model_version != first.model_version
    assert changed.training_examples == first.training_examples - 1


def test_same_data_same_predictions(ml_warehouse: MlWarehouse) -> None:
    con = connect(ml_warehouse.settings)
    try:
        features = load_features(con)
        examples = label_examples(features, load_resolutions(con))
    finally:
        con.close()
    first, second = fit(examples, seed=3), fit(examples, seed=3)
    assert first.version == second.version
    a, b = first.predict(features), second.predict(features)
    assert list(a.exception_type) == list(b.exception_type)
    assert np.array_equal(a.confidence, b.confidence)
    # Reordered rows give the same model and the same predictions.
    shuffled = fit(examples.sample(frac=1.0, random_state=1), seed=3)
    assert shuffled.version == first.version
    assert np.array_equal(shuffled.predict(features).confidence, a.confidence)


def test_cold_start_leaves_the_rule_based_values(ml_warehouse: MlWarehouse, tmp_path: Path) -> None:
    settings = copy_warehouse(ml_warehouse.warehouse, tmp_path / "cold.duckdb")
    con = duckdb.connect(str(settings.warehouse))
    con.execute("delete from raw_decisions.exception_resolutions")
    con.close()
    report = classify(settings, model_dir=tmp_path / "models")
    assert report.cold_start and "nothing to learn from" in report.render()
    build_downstream(settings)
    [(rows,)] = _rows(settings.warehouse, "select count(*) from ml.ml_exception_classifications")
    assert rows == 0
    [(total, by_rules, same_type)] = _rows(
        settings.warehouse,
        "select count(*), count(*) filter (where model_version is null), "
        "count(*) filter (where exception_type = rule_exception_type) from marts.fct_reconciliation_exceptions",
    )
    assert total == by_rules == same_type > 0
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


@pytest.mark.parametrize(
    ("dbt_vars", "expected"),
    [
        pytest.param({"review_min_confidence": 1.01, "review_amount_limit_minor": 10**12}, "all", id="threshold-above-1"),
        pytest.param({"review_min_confidence": 0.0, "review_amount_limit_minor": 0}, "all", id="amount-limit-0"),
        pytest.param({"review_min_confidence": 0.0, "review_amount_limit_minor": 10**12}, "none", id="no-review"),
    ],
)
def test_review_policy_vars_change_requires_review(
    classified: tuple[MlWarehouse, Path, Any], dbt_vars: dict[str, Any], expected: str
) -> None:
    ml, _, _ = classified
    build_downstream(ml.settings, dbt_vars)
    # A person's resolution takes an exception out of the queue whatever the policy.
    [(open_items, review, resolved_in_queue)] = _rows(
        ml.warehouse,
        "select count(*) filter (where not is_resolved), count(*) filter (where requires_review), "
        "count(*) filter (where is_resolved and requires_review) from marts.fct_reconciliation_exceptions",
    )
    assert open_items > 0 and resolved_in_queue == 0
    assert review == (open_items if expected == "all" else 0)


def test_time_split_evaluation_scores_classifier_and_rules(ml_warehouse: MlWarehouse, tmp_path: Path) -> None:
    report = tmp_path / "evaluation.html"
    evaluation = evaluate_classifier(ml_warehouse.settings, truth_dir=ml_warehouse.world, test_periods=2, report_path=report)
    assert evaluation.train_periods and evaluation.test_periods
    assert max(evaluation.train_periods) < min(evaluation.test_periods)
    for scores in (evaluation.classifier, evaluation.rules):
        assert 0 <= scores.macro_f1 <= 1 and 0 <= scores.ece_type <= 1
        assert evaluation.policy.min_confidence in [p.threshold for p in scores.autonomy]
        assert sum(map(sum, scores.confusion)) == evaluation.test_examples
    assert evaluation.gated is not None and sum(map(sum, evaluation.gated.confusion)) == evaluation.test_examples
    # Per rule-based type: the gate decided on the training's own validation periods, before the test ones.
    assert evaluation.validation_periods and max(evaluation.validation_periods) <= max(evaluation.train_periods)
    assert sum(t.test_examples for t in evaluation.per_type) == evaluation.test_examples
    assert {t.source for t in evaluation.per_type} <= {"model", "rules"}
    text = evaluation.render()
    assert "macro F1" in text and "as used" in text and "stands" in text
    for comparison in evaluation.per_type:
        assert any(line.split()[:2] == [comparison.rule_type, comparison.source] for line in text.splitlines())
    page = report.read_text()
    assert "<svg" in page and "Confusion matrix" in page


def test_recon_classify_command(
    classified: tuple[MlWarehouse, Path, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recon.cli import main

    ml, model_dir, _ = classified
    monkeypatch.setattr("ml.classification.DEFAULT_MODEL_DIR", model_dir)  # not the repository's ml/models
    assert main(["classify", "--warehouse", str(ml.warehouse)]) == 0
    out = capsys.readouterr().out
    assert "Classifier exc-" in out and "dbt build" in out
    assert main(["classify", "--warehouse", str(tmp_path / "none.duckdb")]) == 2

    # The rebuild after classifying takes the review's auto-accept policy in force, as `recon run`
    # does: on a copy whose policy makes every USD exception wait for a person, none is let through.
    from core.vocabulary import EXCEPTION_TYPES
    from recon.review.store import DecisionStore, default_store_path

    copy = tmp_path / "policy" / ml.warehouse.name
    copy.parent.mkdir()
    settings = copy_warehouse(ml.warehouse, copy)
    let_through = (
        "select count(*) from marts.fct_reconciliation_exceptions "
        "where currency = 'usd' and not requires_review and not is_resolved"
    )
    with duckdb.connect(str(copy), read_only=True) as connection:
        assert connection.execute(let_through).fetchone()[0] > 0  # the defaults let some through
    with DecisionStore(default_store_path(settings)) as store:
        for exception_type in EXCEPTION_TYPES:
            store.change_policy("exception", exception_type, "usd", min_confidence="1", max_amount_minor=0,
                                who="adam", role="admin")
    assert main(["classify", "--warehouse", str(copy)]) == 0
    with duckdb.connect(str(copy), read_only=True) as connection:
        assert connection.execute(let_through).fetchone()[0] == 0


def test_every_feature_column_is_described(ml_warehouse: MlWarehouse) -> None:
    import yaml

    from core.settings import PROJECT_DIR

    described = yaml.safe_load((PROJECT_DIR / "models" / "ml" / "_ml__models.yml").read_text())["models"][0]
    names = [c["name"] for c in described["columns"] if c.get("description")]
    built = [name for (name, *_) in _rows(ml_warehouse.warehouse, "describe ml.ml_exception_features")]
    assert names == built
