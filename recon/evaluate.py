"""`recon evaluate`: score the marts against a demo world's ground truth (its `truth/` folder).

Reads `marts.fct_reconciliation_matches`, `marts.fct_reconciliation_exceptions` and
`marts.rpt_payout_reconciliation` from the warehouse (read-only) and compares them with
`truth/matches.csv`, `truth/anomalies.csv` and `truth/payouts.csv` (ingest/demo/WORLD_FORMAT.md).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recon.errors import UserError
from recon.settings import Settings
from recon.warehouse import fetch_all, schema

MatchKey = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class MatchScore:
    match_type: str
    truth: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.truth if self.truth else 1.0


@dataclass(frozen=True)
class Evaluation:
    """The scores of one warehouse against one world's truth."""

    matches: list[MatchScore]
    anomalies: int
    anomalies_found: int
    type_correct: int
    disposition_correct: int
    exceptions: int
    false_exceptions: int
    items: int
    payouts: int
    payouts_status_correct: int
    missed_anomalies: list[tuple[str, str]] = field(default_factory=list)

    @property
    def anomalies_found_share(self) -> float:
        return self.anomalies_found / self.anomalies if self.anomalies else 1.0

    @property
    def type_accuracy(self) -> float:
        return self.type_correct / self.anomalies_found if self.anomalies_found else 1.0

    @property
    def disposition_accuracy(self) -> float:
        return self.disposition_correct / self.anomalies_found if self.anomalies_found else 1.0

    @property
    def false_exception_share(self) -> float:
        return self.false_exceptions / self.items if self.items else 0.0

    @property
    def payout_status_accuracy(self) -> float:
        return self.payouts_status_correct / self.payouts if self.payouts else 1.0

    def render(self) -> str:
        lines = [
            f"{'match type':<22}{'truth':>8}{'found':>8}{'right':>8}{'precision':>11}{'recall':>9}",
        ]
        for m in self.matches:
            lines.append(
                f"{m.match_type:<22}{m.truth:>8}{m.predicted:>8}{m.correct:>8}"
                f"{m.precision:>10.2%}{m.recall:>9.2%}"
            )
        lines += [
            "",
            f"{'anomalies found on the right object':<44}{self.anomalies_found:>6} / {self.anomalies:<6}"
            f"{self.anomalies_found_share:>8.2%}",
            f"{'exception_type right (of those found)':<44}{self.type_correct:>6} / {self.anomalies_found:<6}"
            f"{self.type_accuracy:>8.2%}",
            f"{'disposition right (of those found)':<44}{self.disposition_correct:>6} / {self.anomalies_found:<6}"
            f"{self.disposition_accuracy:>8.2%}",
            f"{'false exceptions (share of items)':<44}{self.false_exceptions:>6} / {self.items:<6}"
            f"{self.false_exception_share:>8.2%}",
            f"{'payouts with the right status':<44}{self.payouts_status_correct:>6} / {self.payouts:<6}"
            f"{self.payout_status_accuracy:>8.2%}",
        ]
        if self.missed_anomalies:
            shown = ", ".join(f"{o} ({t})" for o, t in self.missed_anomalies[:10])
            lines.append(f"missed anomalies: {shown}")
        return "\n".join(lines)


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise UserError(f"{path} not found: pass --world a demo world directory (with truth/).")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _key(row: Sequence[Any]) -> MatchKey:
    a, b, c, d, e = (str(v) if v is not None else "" for v in row)
    return (a, b, c, d, e)


def score(
    world: Path,
    matches: Iterable[Sequence[Any]],
    exceptions: Iterable[Sequence[Any]],
    payouts: Iterable[Sequence[Any]],
    items: int,
) -> Evaluation:
    """Scores marts rows against the truth of `world`.

    matches: (match_type, stripe_object_id, erp_document_number, erp_payment_number,
    erp_journal_number, status); exceptions: (object_id, exception_type, disposition);
    payouts: (payout_id, status); items: the number of items that could be exceptions.
    """
    truth_matches = {
        _key([r["match_type"], r["stripe_object_id"], r["erp_document_number"],
              r["erp_payment_number"], r["erp_journal_number"]])
        for r in _read_csv(world / "truth" / "matches.csv")
    }
    predicted = {_key(row[:5]) for row in matches if row[5] != "rejected"}
    match_scores = []
    for match_type in sorted({k[0] for k in truth_matches | predicted}):
        t = {k for k in truth_matches if k[0] == match_type}
        p = {k for k in predicted if k[0] == match_type}
        match_scores.append(MatchScore(match_type, len(t), len(p), len(t & p)))

    anomalies = _read_csv(world / "truth" / "anomalies.csv")
    found: dict[str, tuple[str, str]] = {}
    exception_count = 0
    for object_id, exception_type, disposition in exceptions:
        exception_count += 1
        found.setdefault(str(object_id), (str(exception_type), str(disposition)))
    anomaly_ids = {a["object_id"] for a in anomalies}
    hit = type_ok = disposition_ok = 0
    missed: list[tuple[str, str]] = []
    for a in anomalies:
        got = found.get(a["object_id"])
        if got is None:
            missed.append((a["object_id"], a["exception_type"]))
            continue
        hit += 1
        type_ok += got[0] == a["exception_type"]
        disposition_ok += got[1] == a["disposition"]
    false_exceptions = sum(1 for object_id in found if object_id not in anomaly_ids)

    truth_payouts = {r["payout_id"]: r["expected_recon_status"] for r in _read_csv(world / "truth" / "payouts.csv")}
    marts_payouts = {str(p): str(s) for p, s in payouts}
    payouts_ok = sum(1 for p, s in truth_payouts.items() if marts_payouts.get(p) == s)
    return Evaluation(
        matches=match_scores,
        anomalies=len(anomalies),
        anomalies_found=hit,
        type_correct=type_ok,
        disposition_correct=disposition_ok,
        exceptions=exception_count,
        false_exceptions=false_exceptions,
        items=items,
        payouts=len(truth_payouts),
        payouts_status_correct=payouts_ok,
        missed_anomalies=missed,
    )


_MATCHES_SQL = (
    "select match_type, stripe_object_id, erp_document_number, erp_payment_number, "
    "erp_journal_number, status from {marts}.fct_reconciliation_matches"
)
_EXCEPTIONS_SQL = "select object_id, exception_type, disposition from {marts}.fct_reconciliation_exceptions"
_PAYOUTS_SQL = "select payout_id, status from {marts}.rpt_payout_reconciliation"
# Items that are matched or are an exception (CONTRACT.md section 6, conservation).
_ITEMS_SQL = (
    "select (select count(*) from {staging}.stg_stripe__charges where is_succeeded)"
    " + (select count(*) from {staging}.stg_stripe__refunds)"
    " + (select count(*) from {staging}.stg_stripe__disputes)"
    " + (select count(*) from {staging}.stg_stripe__payouts)"
    " + (select count(*) from {staging}.stg_erp__payments where is_stripe_payment)"
)


def _fetch(settings: Settings) -> tuple[list[Any], list[Any], list[Any], int]:
    names = {"marts": schema("marts"), "staging": schema("staging")}
    queries = [q.format(**names) for q in (_MATCHES_SQL, _EXCEPTIONS_SQL, _PAYOUTS_SQL, _ITEMS_SQL)]
    results = fetch_all(settings, queries)
    return results[0], results[1], results[2], int(results[3][0][0])


def evaluate(settings: Settings, world: Path) -> Evaluation:
    """Scores the warehouse of `settings` against the truth of the world in `world`."""
    matches, exceptions, payouts, items = _fetch(settings)
    return score(world, matches, exceptions, payouts, items)
