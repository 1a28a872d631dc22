"""`recon classify --evaluate`: a time-split evaluation of the classifier against the
rule-based values on the same test items, printed and written as an HTML report.

Train on the past resolutions of the earlier periods (the training itself decides, on its own
time split of those, which source stands per rule-based type: ml.gate); test on the later
periods, labelled by the resolutions (or, for a demo world, by its ground truth
`truth/anomalies.csv`, which also labels the last month that has no resolutions yet). Three
scorers on the same test items: the model alone, the rules alone, and the values as used (the
model where its gate let it stand, else the rules).
"""

from __future__ import annotations

import csv
import html
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml  # type: ignore[import-untyped,unused-ignore]
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from core.errors import UserError
from core.settings import PROJECT_DIR, Settings
from core.vocabulary import EXCEPTION_TYPES, EXPECTED_VARIANCE, TRUE_EXCEPTION
from ml.features import (
    connect,
    label_examples,
    load_features,
    load_resolutions,
)
from ml.gate import Gate
from ml.training import DEFAULT_SEED, fit

log = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
DEFAULT_REPORT = PROJECT_DIR / "reports" / "classifier_evaluation.html"

# The per-type table's first column: as wide as the longest exception type, and a space.
TYPE_WIDTH = max(len(name) for name in EXCEPTION_TYPES) + 2


@dataclass(frozen=True)
class ReviewPolicy:
    """requires_review = confidence below min_confidence or amount above amount_limit_minor."""

    min_confidence: float
    amount_limit_minor: int


def review_policy(project_dir: Path = PROJECT_DIR) -> ReviewPolicy:
    """The policy's two dbt vars as dbt_project.yml sets them."""
    with open(project_dir / "dbt_project.yml", encoding="utf-8") as handle:
        variables = (yaml.safe_load(handle) or {}).get("vars", {})
    return ReviewPolicy(float(variables["review_min_confidence"]), int(variables["review_amount_limit_minor"]))


@dataclass(frozen=True)
class AutonomyPoint:
    threshold: float
    without_review: float  # share of all test items no human looks at
    expected_variance_auto_resolved: float  # share of true expected variances closed without a human
    true_exceptions_auto_resolved: float  # share of true exceptions closed as benign without a human
    true_exceptions_auto_resolved_count: int


@dataclass(frozen=True)
class Scores:
    """One scorer (the classifier or the rules) on the test items."""

    name: str
    per_class: list[tuple[str, float, float, float, int]]  # type, precision, recall, F1, support
    macro_f1: float
    type_accuracy: float
    disposition_accuracy: float
    ece_type: float
    ece_disposition: float
    labels: list[str]
    confusion: list[list[int]]
    autonomy: list[AutonomyPoint]
    reliability: list[tuple[float, float, int]]  # per bin: mean confidence, accuracy, count

    def at(self, threshold: float) -> AutonomyPoint:
        return next(p for p in self.autonomy if p.threshold == threshold)


@dataclass(frozen=True)
class TypeComparison:
    """One rule-based type: the source its gate chose on the training's own time split
    (validation) and how the model and the rules did on the evaluation's test items."""

    rule_type: str
    source: str
    validation_examples: int
    validation_model_right: int
    validation_rules_right: int
    p_value: float
    test_examples: int
    test_model_right: int
    test_rules_right: int

    def render(self) -> str:
        def of(right: int, n: int) -> str:
            return f"{right}/{n}" if n else "-"

        return (
            f"  {self.rule_type:{TYPE_WIDTH}}{self.source:8}"
            f"{of(self.validation_model_right, self.validation_examples):>9}"
            f"{of(self.validation_rules_right, self.validation_examples):>9}{self.p_value:>8.3f}"
            f"{of(self.test_model_right, self.test_examples):>10}{of(self.test_rules_right, self.test_examples):>9}"
        )


@dataclass(frozen=True)
class ClassifierEvaluation:
    train_periods: list[str]
    test_periods: list[str]
    train_examples: int
    test_examples: int
    labels_from: str
    policy: ReviewPolicy
    classifier: Scores
    rules: Scores
    unlabelled_test_exceptions: int
    gated: Scores | None = None  # the values as used: the model where its gate let it stand
    validation_periods: list[str] = field(default_factory=list)
    per_type: list[TypeComparison] = field(default_factory=list)
    report_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"Time split: train on periods {self.train_periods[0]}..{self.train_periods[-1]} "
            f"({self.train_examples} past resolutions), test on {self.test_periods[0]}..{self.test_periods[-1]} "
            f"({self.test_examples} exceptions labelled by {self.labels_from}; "
            f"{self.unlabelled_test_exceptions} unlabelled left out).",
            f"Policy: review when confidence < {self.policy.min_confidence} or amount > "
            f"{self.policy.amount_limit_minor} minor units.",
        ]
        if self.per_type:
            lines += [
                "",
                "Per rule-based type: which source stands (decided when training, on its validation periods "
                f"{', '.join(self.validation_periods)}), and the model vs. the rules (type right of n):",
                f"  {'':{TYPE_WIDTH + 8}}{'validation':>13}{'':13}{'test':>14}",
                f"  {'rule-based type':{TYPE_WIDTH}}{'stands':8}{'model':>9}{'rules':>9}{'p':>8}{'model':>10}{'rules':>9}",
                *(t.render() for t in self.per_type),
            ]
        c, r = self.classifier, self.rules
        g = self.gated or self.classifier
        lines += ["", f"{'':28}{'model':>12}{'rules':>12}{'as used':>12}"]
        default = self.policy.min_confidence
        for label, a, b, used in (
            ("macro F1 (exception_type)", c.macro_f1, r.macro_f1, g.macro_f1),
            ("type accuracy", c.type_accuracy, r.type_accuracy, g.type_accuracy),
            ("disposition accuracy", c.disposition_accuracy, r.disposition_accuracy, g.disposition_accuracy),
            ("ECE (type confidence)", c.ece_type, r.ece_type, g.ece_type),
            ("ECE (disposition)", c.ece_disposition, r.ece_disposition, g.ece_disposition),
            ("EV auto-resolved @default", c.at(default).expected_variance_auto_resolved,
             r.at(default).expected_variance_auto_resolved, g.at(default).expected_variance_auto_resolved),
            ("TE auto-resolved @default", c.at(default).true_exceptions_auto_resolved,
             r.at(default).true_exceptions_auto_resolved, g.at(default).true_exceptions_auto_resolved),
        ):
            lines.append(f"{label:28}{a:>12.4f}{b:>12.4f}{used:>12.4f}")
        for scores in (c, r, g) if self.gated else (c, r):
            lines += ["", f"{scores.name}: per class (precision recall F1 support)"]
            for name, precision, recall, f1, support in scores.per_class:
                lines.append(f"  {name:22}{precision:8.3f}{recall:8.3f}{f1:8.3f}{support:6d}")
            lines.append(f"{scores.name}: confusion matrix (rows true, columns predicted, order as above)")
            for name, row in zip(scores.labels, scores.confusion, strict=True):
                lines.append(f"  {name:22}" + "".join(f"{v:5d}" for v in row))
            lines.append(f"{scores.name}: autonomy (threshold: no review, EV auto-resolved, TE auto-resolved)")
            for p in scores.autonomy:
                mark = "  <- default" if p.threshold == default else ""
                lines.append(
                    f"  {p.threshold:5.2f}  {p.without_review:7.2%}  {p.expected_variance_auto_resolved:7.2%}  "
                    f"{p.true_exceptions_auto_resolved:7.2%} ({p.true_exceptions_auto_resolved_count}){mark}"
                )
        lines += [f"Note: {n}" for n in self.notes]
        if self.report_path:
            lines.append(f"HTML report: {self.report_path}")
        return "\n".join(lines)


def expected_calibration_error(confidence: np.ndarray[Any, Any], correct: np.ndarray[Any, Any], bins: int = 10) -> tuple[float, list[tuple[float, float, int]]]:
    """Top-label ECE over equal-width bins, and the reliability diagram's bins."""
    if len(confidence) == 0:
        return 0.0, []
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total, table = 0.0, []
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue
        mean_confidence, accuracy = float(confidence[mask].mean()), float(correct[mask].mean())
        total += mask.sum() / len(confidence) * abs(mean_confidence - accuracy)
        table.append((mean_confidence, accuracy, int(mask.sum())))
    return float(total), table


def score(
    name: str,
    truth_type: np.ndarray[Any, Any],
    truth_disposition: np.ndarray[Any, Any],
    predicted_type: np.ndarray[Any, Any],
    predicted_disposition: np.ndarray[Any, Any],
    confidence: np.ndarray[Any, Any],
    disposition_confidence: np.ndarray[Any, Any],
    amount_minor: np.ndarray[Any, Any],
    policy: ReviewPolicy,
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
) -> Scores:
    labels = sorted(set(truth_type) | set(predicted_type))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth_type, predicted_type, labels=labels, zero_division=0
    )
    per_class = [
        (label, float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    ]
    ece_type, reliability = expected_calibration_error(confidence, predicted_type == truth_type)
    ece_disposition, _ = expected_calibration_error(disposition_confidence, predicted_disposition == truth_disposition)
    is_ev, is_te = truth_disposition == EXPECTED_VARIANCE, truth_disposition == TRUE_EXCEPTION
    autonomy = []
    for threshold in sorted({*thresholds, policy.min_confidence}):
        review = (confidence < threshold) | (amount_minor > policy.amount_limit_minor)
        closed_as_benign = ~review & (predicted_disposition == EXPECTED_VARIANCE)
        autonomy.append(
            AutonomyPoint(
                threshold=threshold,
                without_review=float((~review).mean()) if len(review) else 0.0,
                expected_variance_auto_resolved=float(closed_as_benign[is_ev].mean()) if is_ev.any() else 0.0,
                true_exceptions_auto_resolved=float(closed_as_benign[is_te].mean()) if is_te.any() else 0.0,
                true_exceptions_auto_resolved_count=int(closed_as_benign[is_te].sum()),
            )
        )
    present = [row for row in per_class if row[4] > 0]
    return Scores(
        name=name,
        per_class=per_class,
        macro_f1=float(np.mean([row[3] for row in present])) if present else 0.0,
        type_accuracy=float(np.mean(predicted_type == truth_type)) if len(truth_type) else 0.0,
        disposition_accuracy=float(np.mean(predicted_disposition == truth_disposition)) if len(truth_type) else 0.0,
        ece_type=ece_type,
        ece_disposition=ece_disposition,
        labels=labels,
        confusion=confusion_matrix(truth_type, predicted_type, labels=labels).tolist(),
        autonomy=autonomy,
        reliability=reliability,
    )


def _truth_labels(world: Path) -> pd.DataFrame:
    path = world / "truth" / "anomalies.csv"
    if not path.exists():
        raise UserError(f"{path} not found: --truth takes a demo world's folder (worlds/seed<S>-scale<N>).")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(r["object_id"], r["exception_type"]) for r in csv.DictReader(handle)]
    return pd.DataFrame(rows, columns=["object_id", "exception_type"]).drop_duplicates("object_id")


def evaluate_classifier(
    settings: Settings,
    *,
    truth_dir: Path | None = None,
    test_periods: int = 3,
    report_path: Path | None = DEFAULT_REPORT,
    seed: int = DEFAULT_SEED,
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
) -> ClassifierEvaluation:
    """Trains on the resolutions of all but the last `test_periods` periods and scores the
    classifier and the rule-based values on the exceptions of those periods. Nothing is
    written to the warehouse; the HTML report goes to `report_path` (None: none)."""
    con = connect(settings)
    try:
        features = load_features(con)
        resolutions = load_resolutions(con)
    finally:
        con.close()
    resolved = label_examples(features, resolutions)
    test_labelled = label_examples(features, _truth_labels(truth_dir)) if truth_dir else resolved
    periods = sorted({str(p) for p in pd.concat([resolved["period"], test_labelled["period"]]).dropna()})
    if len(periods) <= test_periods:
        raise UserError(
            f"{len(periods)} period(s) with labelled exceptions: a time split testing on {test_periods} needs more."
        )
    first_test = periods[-test_periods]
    train = resolved[resolved["period"].astype(str) < first_test]
    test = test_labelled[test_labelled["period"].astype(str) >= first_test].reset_index(drop=True)
    in_test = features[features["period"].astype(str) >= first_test]
    model = fit(train, seed=seed)
    raw = model.predict_ungated(test)
    used = model.predict(test)
    policy = review_policy()
    truth_type = test["label_type"].astype(str).to_numpy()
    truth_disposition = test["label_disposition"].astype(str).to_numpy()
    amount = pd.to_numeric(test["amount_minor"]).to_numpy()
    classifier = score(
        "model", truth_type, truth_disposition, raw.exception_type.astype(str),
        raw.disposition.astype(str), raw.confidence, raw.disposition_confidence,
        amount, policy, thresholds,
    )
    rule_confidence = pd.to_numeric(test["rule_confidence"]).astype(float).to_numpy()
    rules = score(
        "rules", truth_type, truth_disposition, test["rule_exception_type"].astype(str).to_numpy(),
        test["rule_disposition"].astype(str).to_numpy(), rule_confidence, rule_confidence,
        amount, policy, thresholds,
    )
    gated = score(
        "as used", truth_type, truth_disposition, used.exception_type.astype(str),
        used.disposition.astype(str), used.confidence, used.disposition_confidence,
        amount, policy, thresholds,
    )
    evaluation = ClassifierEvaluation(
        train_periods=[p for p in periods if p < first_test],
        test_periods=[p for p in periods if p >= first_test],
        train_examples=len(train),
        test_examples=len(test),
        labels_from=f"the ground truth of {truth_dir}" if truth_dir else "the analysts' resolutions",
        policy=policy,
        classifier=classifier,
        rules=rules,
        gated=gated,
        validation_periods=model.gate.validation_periods,
        per_type=compare_per_type(model.gate, test, raw.exception_type.astype(str)),
        unlabelled_test_exceptions=len(in_test) - len(test),
        report_path=report_path,
        notes=[
            "auto-resolved = no review needed and classified expected_variance; "
            "the rules' own confidence is their fixed per-type certainty, not a calibrated probability; "
            "as used, where the rules stand, it is their measured accuracy on that rule-based type.",
        ],
    )
    if report_path is not None:
        write_html(evaluation, report_path)
    return evaluation


def compare_per_type(gate: Gate, test: pd.DataFrame, model_type: np.ndarray[Any, Any]) -> list[TypeComparison]:
    """Per rule-based type of the gate or the test items: the gate's decision and validation
    figures, and the model's and the rules' type accuracy on the test items."""
    rule_type = test["rule_exception_type"].astype(str).to_numpy()
    label = test["label_type"].astype(str).to_numpy()
    rows = []
    for t in sorted(set(gate.types) | set(rule_type)):
        mask = rule_type == t
        decided = gate.types.get(t)
        rows.append(
            TypeComparison(
                rule_type=t,
                source=gate.source_of(t),
                validation_examples=decided.validation_examples if decided else 0,
                validation_model_right=decided.model_right if decided else 0,
                validation_rules_right=decided.rules_right if decided else 0,
                p_value=decided.p_value if decided else 1.0,
                test_examples=int(mask.sum()),
                test_model_right=int((model_type[mask] == label[mask]).sum()),
                test_rules_right=int((label[mask] == t).sum()),
            )
        )
    return rows


# -- the HTML report: tables and inline SVG, no plotting dependency -------------------------------


def _svg_autonomy(scores: list[Scores], default: float) -> str:
    width, height, pad = 420, 260, 40
    colors = {"model": "#1f77b4", "rules": "#d62728", "as used": "#2ca02c"}

    def x(v: float) -> float:
        return pad + v * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - v * (height - 2 * pad)

    parts = [
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="10">',
        f'<line x1="{pad}" y1="{y(0)}" x2="{width - pad}" y2="{y(0)}" stroke="#333"/>',
        f'<line x1="{pad}" y1="{y(0)}" x2="{pad}" y2="{y(1)}" stroke="#333"/>',
        f'<text x="{width / 2 - 90}" y="{height - 8}">true exceptions auto-resolved (share)</text>',
        f'<text x="4" y="{pad - 10}">expected variances auto-resolved (share)</text>',
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{x(tick) - 6}" y="{y(0) + 12}">{tick:g}</text>')
        parts.append(f'<text x="{pad - 22}" y="{y(tick) + 3}">{tick:g}</text>')
    for s in scores:
        color = colors.get(s.name, "#555")
        points = " ".join(
            f"{x(p.true_exceptions_auto_resolved):.1f},{y(p.expected_variance_auto_resolved):.1f}" for p in s.autonomy
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}"/>')
        for p in s.autonomy:
            radius = 5 if p.threshold == default else 3
            parts.append(
                f'<circle cx="{x(p.true_exceptions_auto_resolved):.1f}" cy="{y(p.expected_variance_auto_resolved):.1f}" '
                f'r="{radius}" fill="{color}"><title>{s.name} @ {p.threshold}</title></circle>'
            )
        parts.append(f'<text x="{width - 110}" y="{pad + 14 * list(colors).index(s.name)}" fill="{color}">{s.name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_reliability(s: Scores) -> str:
    size, pad = 240, 30
    inner = size - 2 * pad
    parts = [
        f'<svg width="{size}" height="{size}" xmlns="http://www.w3.org/2000/svg" font-size="10">',
        f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#aaa" stroke-dasharray="4"/>',
        f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="none" stroke="#333"/>',
        f'<text x="{pad}" y="{size - 8}">confidence</text><text x="2" y="{pad - 8}">accuracy ({s.name})</text>',
    ]
    for mean_confidence, accuracy, count in s.reliability:
        bar_x = pad + min(mean_confidence, 0.999) * inner - 5
        parts.append(
            f'<rect x="{bar_x:.1f}" y="{pad + (1 - accuracy) * inner:.1f}" width="10" height="{accuracy * inner:.1f}" '
            f'fill="#1f77b4" opacity="0.7"><title>conf {mean_confidence:.3f}, acc {accuracy:.3f}, n={count}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{v:.3f}</td>" if isinstance(v, float) else f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _confusion(s: Scores) -> str:
    peak = max((v for row in s.confusion for v in row), default=1) or 1
    head = "".join(f"<th>{html.escape(label)}</th>" for label in s.labels)
    rows = []
    for label, row in zip(s.labels, s.confusion, strict=True):
        cells = "".join(
            f'<td style="background: rgba(31,119,180,{0.1 + 0.9 * v / peak if v else 0:.2f})">{v}</td>' for v in row
        )
        rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return f"<table><tr><th>true \\ predicted</th>{head}</tr>{''.join(rows)}</table>"


def write_html(evaluation: ClassifierEvaluation, path: Path) -> None:
    """The report: summary, per-class scores, confusion matrices, reliability and autonomy plots."""
    c, r = evaluation.classifier, evaluation.rules
    g = evaluation.gated or c
    default = evaluation.policy.min_confidence
    summary = _table(
        ["measure", "model", "rules", "as used"],
        [
            ["macro F1 (exception_type)", c.macro_f1, r.macro_f1, g.macro_f1],
            ["type accuracy", c.type_accuracy, r.type_accuracy, g.type_accuracy],
            ["disposition accuracy", c.disposition_accuracy, r.disposition_accuracy, g.disposition_accuracy],
            ["ECE (type)", c.ece_type, r.ece_type, g.ece_type],
            ["expected variances auto-resolved @ default", c.at(default).expected_variance_auto_resolved,
             r.at(default).expected_variance_auto_resolved, g.at(default).expected_variance_auto_resolved],
            ["true exceptions auto-resolved @ default", c.at(default).true_exceptions_auto_resolved,
             r.at(default).true_exceptions_auto_resolved, g.at(default).true_exceptions_auto_resolved],
        ],
    )
    per_type = _table(
        ["rule-based type", "stands", "validation n", "validation: model right", "validation: rules right",
         "sign test p", "test n", "test: model right", "test: rules right"],
        [[t.rule_type, t.source, t.validation_examples, t.validation_model_right, t.validation_rules_right,
          t.p_value, t.test_examples, t.test_model_right, t.test_rules_right] for t in evaluation.per_type],
    )
    sections = [
        "<h1>Exception classifier: time-split evaluation</h1>",
        f"<p>Train: periods {evaluation.train_periods[0]}&ndash;{evaluation.train_periods[-1]} "
        f"({evaluation.train_examples} resolutions). Test: {evaluation.test_periods[0]}&ndash;"
        f"{evaluation.test_periods[-1]} ({evaluation.test_examples} exceptions, labelled by "
        f"{html.escape(evaluation.labels_from)}). Default review threshold {default}, amount limit "
        f"{evaluation.policy.amount_limit_minor} minor units.</p>",
        summary,
        "<h2>Which source stands, per rule-based type</h2>",
        f"<p>Decided when training, on its validation periods {html.escape(', '.join(evaluation.validation_periods))}.</p>",
        per_type,
        "<h2>Autonomy trade-off</h2>",
        _svg_autonomy([c, r, g] if evaluation.gated else [c, r], default),
    ]
    for s in (c, r, g) if evaluation.gated else (c, r):
        sections += [
            f"<h2>{s.name}</h2>",
            _table(["exception_type", "precision", "recall", "F1", "support"], [list(row) for row in s.per_class]),
            "<h3>Confusion matrix</h3>",
            _confusion(s),
            "<h3>Reliability</h3>",
            _svg_reliability(s),
            "<h3>Autonomy by threshold</h3>",
            _table(
                ["threshold", "no review", "expected variances auto-resolved", "true exceptions auto-resolved"],
                [[p.threshold, p.without_review, p.expected_variance_auto_resolved, p.true_exceptions_auto_resolved]
                 for p in s.autonomy],
            ),
        ]
    sections += [f"<p>{html.escape(n)}</p>" for n in evaluation.notes]
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Exception classifier</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>",
        encoding="utf-8",
    )
