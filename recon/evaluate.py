"""`recon evaluate`: score the marts against a demo world's ground truth (its `truth/` folder).

The conventions are those of the practice world's scorer (`../shared/practice/score.py`), so
that a figure here means what it means there:

- **matches**: a predicted pair counts when its status is auto_matched, suggested or confirmed,
  keyed by (match_type, stripe_object_id, erp_document_number), or erp_journal_number for
  payout_deposit. Truth pairs whose Stripe object carries a variance anomaly (fee, fx,
  rounding, timing, amount mismatch) count as right when predicted but are left out of recall:
  a reconciliation may equally leave them unmatched. Charges of an interchangeable group
  (truth/interchangeable.csv: one customer and amount, nothing on either side telling which
  paid which invoice) are scored under the assignment of the group's documents that agrees most
  with the truth. Only charge_payment, refund_payment and payout_deposit are scored; other
  types are listed.
- **anomalies**: detected when an exception row names the anomaly's object_id or one of its
  related ids (truth/anomaly_related.csv); type and disposition are right when any such row has
  them. *Unseen* anomalies are those with no resolution in decisions/ (truth/resolved.csv): the
  `score:` line gives detect, type and disposition over them.
- **false exceptions**: distinct exception object_ids that name no anomaly nor a related id:
  items that reconcile, clean items outside the conservation scope (truth/out_of_scope.csv),
  and ids that are neither; also as a share of the world's Stripe items (succeeded charges,
  refunds, disputes, payouts).
- **payouts**: right when `rpt_payout_reconciliation` has the truth's status and journal; the
  payout-to-invoice rollup gets its recall and precision.
- **decisions**: rejected pairs back in the matches mart with another status than rejected;
  confirmed pairs kept as confirmed (a row is a pair when it names the pair's Stripe object and
  its ERP document or payment).
- **quarantine**: a bad row (truth/bad_rows.csv) is found when a quarantine table's row names
  its file and its line.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.settings import Settings
from core.warehouse import fetch_all, schema

OK_STATUS = frozenset({"auto_matched", "suggested", "confirmed"})
SCORED_TYPES = ("charge_payment", "refund_payment", "payout_deposit")
VARIANCE_TYPES = frozenset(
    {"fee_variance", "fx_variance", "rounding", "timing_difference", "amount_mismatch"}
)
# an interchangeable group larger than this is scored as is (its permutations are too many)
_MAX_GROUP = 7

Pair = tuple[str, str]  # (stripe_object_id, erp document or journal)


def ratio(a: int, b: int) -> float:
    """a / b rounded to 4 places; 0.0 without a denominator (the practice scorer's rule)."""
    return round(a / b, 4) if b else 0.0


# ------------------------------------------------------------------ the truth of a world
def _read_csv(path: Path, *, required: bool = True) -> list[dict[str, str]]:
    if not path.exists():
        if required:
            raise UserError(f"{path} not found: pass --world a demo world directory (with truth/).")
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class Anomaly:
    object_id: str
    exception_type: str
    disposition: str
    period: str
    related: tuple[str, ...]


@dataclass(frozen=True)
class Truth:
    """What a perfect reconciliation of a world finds (WORLD_FORMAT.md, `truth/`)."""

    pairs: Mapping[str, frozenset[Pair]]  # every true pair, by match type
    core: Mapping[str, frozenset[Pair]]  # the pairs recall is measured on (no variance)
    anomalies: tuple[Anomaly, ...]
    resolved: frozenset[str]
    out_of_scope: Mapping[str, str]
    groups: tuple[tuple[str, ...], ...]  # interchangeable groups' documents
    reconciled_ids: frozenset[str]  # every id a true pair names
    payouts: Mapping[str, tuple[str, str]]  # payout_id -> (status, journal or '')
    payout_invoices: frozenset[Pair]
    bad_rows: tuple[tuple[str, int], ...]
    confirmed: tuple[tuple[str, str, str], ...]  # (stripe id, document, payment)
    rejected: tuple[tuple[str, str, str], ...]
    stripe_items: int
    # Stripe object -> the mess knobs whose stories name it (truth/mess.csv)
    stories: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, world: Path) -> Truth:
        truth = world / "truth"
        anomalies_rows = _read_csv(truth / "anomalies.csv")
        related: dict[str, list[str]] = defaultdict(list)
        for row in _read_csv(truth / "anomaly_related.csv", required=False):
            related[row["object_id"]].append(row["related_id"])
        anomalies = tuple(
            Anomaly(
                a["object_id"],
                a["exception_type"],
                a["disposition"],
                a["period"],
                tuple(related.get(a["object_id"], ())),
            )
            for a in anomalies_rows
        )
        variance_ids = {a.object_id for a in anomalies if a.exception_type in VARIANCE_TYPES}
        pairs: dict[str, set[Pair]] = defaultdict(set)
        core: dict[str, set[Pair]] = defaultdict(set)
        reconciled: set[str] = set()
        for m in _read_csv(truth / "matches.csv"):
            key = (m["stripe_object_id"], m["erp_journal_number"] or m["erp_document_number"])
            pairs[m["match_type"]].add(key)
            if m["stripe_object_id"] not in variance_ids:
                core[m["match_type"]].add(key)
            reconciled.update(
                m[k]
                for k in (
                    "stripe_object_id",
                    "erp_document_number",
                    "erp_payment_number",
                    "erp_journal_number",
                )
                if m[k]
            )
        resolved_path = truth / "resolved.csv"
        resolved = (
            {r["object_id"] for r in _read_csv(resolved_path)}
            if resolved_path.exists()
            else {
                r["object_id"]
                for r in _read_csv(
                    world / "decisions" / "exception_resolutions.csv", required=False
                )
            }
        )
        groups: dict[str, list[str]] = defaultdict(list)
        for row in _read_csv(truth / "interchangeable.csv", required=False):
            groups[row["group"]].append(row["erp_document_number"])
        decisions = _read_csv(world / "decisions" / "match_decisions.csv", required=False)
        stories: dict[str, set[str]] = defaultdict(set)
        for row in _read_csv(truth / "mess.csv", required=False):
            if row["stripe_object_id"]:
                stories[row["stripe_object_id"]].add(row["knob"])

        def decided(kind: str) -> tuple[tuple[str, str, str], ...]:
            return tuple(
                (d["stripe_object_id"], d["erp_document_number"], d["erp_payment_number"])
                for d in decisions
                if d["decision"] == kind
            )

        return cls(
            pairs={k: frozenset(v) for k, v in pairs.items()},
            core={k: frozenset(v) for k, v in core.items()},
            anomalies=anomalies,
            resolved=frozenset(resolved),
            out_of_scope={
                r["object_id"]: r["scope"]
                for r in _read_csv(truth / "out_of_scope.csv", required=False)
            },
            groups=tuple(tuple(docs) for docs in groups.values()),
            reconciled_ids=frozenset(reconciled),
            payouts={
                r["payout_id"]: (r["expected_recon_status"], r["erp_journal_number"])
                for r in _read_csv(truth / "payouts.csv")
            },
            payout_invoices=frozenset(
                (r["payout_id"], r["erp_document_number"])
                for r in _read_csv(truth / "payout_invoices.csv", required=False)
            ),
            bad_rows=tuple(
                (r["file"], int(r["line"])) for r in _read_csv(truth / "bad_rows.csv")
            ),
            confirmed=decided("confirmed"),
            rejected=decided("rejected"),
            stripe_items=_stripe_items(world),
            stories={k: frozenset(v) for k, v in stories.items()},
        )


def _stripe_items(world: Path) -> int:
    manifest_path = world / "manifest.json"
    if not manifest_path.exists():
        return 0
    counts = json.loads(manifest_path.read_text(encoding="utf-8")).get("counts", {})
    succeeded = counts.get("charges_succeeded", counts.get("charges", 0))
    return int(
        succeeded + counts.get("refunds", 0) + counts.get("disputes", 0) + counts.get("payouts", 0)
    )


def relabel(
    predicted: set[tuple[str, str]], truth: frozenset[tuple[str, str]], groups: Iterable[Sequence[str]]
) -> set[tuple[str, str]]:
    """`predicted` (pairs whose second element is a document) with the documents of each
    interchangeable group renamed by the permutation of the group that agrees most with `truth`."""
    out = set(predicted)
    by_doc: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for pair in predicted:
        by_doc[pair[1]].add(pair)
    for docs in groups:
        mine = set().union(*(by_doc.get(d, set()) for d in docs))
        if not mine or len(docs) > _MAX_GROUP:
            continue
        best = max(
            (
                {(k[0], dict(zip(docs, perm, strict=True))[k[1]]) for k in mine}
                for perm in itertools.permutations(docs)
            ),
            key=lambda candidate: len(candidate & truth),
        )
        out -= mine
        out |= best
    return out


# ------------------------------------------------------------------ the figures
@dataclass(frozen=True)
class MatchScore:
    match_type: str
    truth: int  # pairs recall is measured on
    predicted: int
    correct: int  # predicted pairs that are true (variance pairs included)
    found: int = 0  # predicted pairs among those recall is measured on
    variance_pairs: int = 0

    @property
    def precision(self) -> float:
        return ratio(self.correct, self.predicted)

    @property
    def recall(self) -> float:
        return ratio(self.found, self.truth)


@dataclass(frozen=True)
class AnomalyFigures:
    anomalies: int
    detected: int
    type_ok: int
    disposition_ok: int

    @property
    def detect_recall(self) -> float:
        return ratio(self.detected, self.anomalies)

    @property
    def type_accuracy(self) -> float:
        return ratio(self.type_ok, self.detected)

    @property
    def disposition_accuracy(self) -> float:
        return ratio(self.disposition_ok, self.detected)


@dataclass(frozen=True)
class Evaluation:
    """The scores of one warehouse against one world's truth."""

    matches: list[MatchScore]
    unscored_match_types: dict[str, int]
    all_anomalies: AnomalyFigures
    unseen: AnomalyFigures
    per_type: dict[str, dict[str, int]]
    false_exceptions: int
    false_by_scope: dict[str, int]
    false_by_type: dict[str, int]
    false_examples: list[str]
    stripe_items: int
    payouts: int
    payouts_ok: int
    payouts_status_correct: int
    payouts_journal_correct: int
    payout_status_errors: dict[str, int]
    payout_invoice_pairs: int
    payout_invoices_found: int
    payout_invoices_predicted: int
    rejected: int
    rejected_back: int
    confirmed: int
    confirmed_kept: int
    bad_rows: int
    quarantine_found: int | None  # None: no quarantine table could be read
    missed_anomalies: list[tuple[str, str]] = field(default_factory=list)
    # the bank side, when the world has statements (truth/bank_lines.csv)
    bank: BankScore | None = None
    # missed true pairs and wrong predicted pairs by the mess knob whose story names their
    # Stripe object ("-": none does)
    missed_by_knob: dict[str, int] = field(default_factory=dict)
    wrong_by_knob: dict[str, int] = field(default_factory=dict)

    # figures of the whole (the practice scorer's `score:` line)
    @property
    def match_precision(self) -> float:
        return ratio(sum(m.correct for m in self.matches), sum(m.predicted for m in self.matches))

    @property
    def match_recall(self) -> float:
        return ratio(sum(m.found for m in self.matches), sum(m.truth for m in self.matches))

    @property
    def anomalies(self) -> int:
        return self.all_anomalies.anomalies

    @property
    def anomalies_found(self) -> int:
        return self.all_anomalies.detected

    @property
    def false_exception_share(self) -> float:
        return self.false_exceptions / self.stripe_items if self.stripe_items else 0.0

    @property
    def payout_status_accuracy(self) -> float:
        return ratio(self.payouts_status_correct, self.payouts)

    @property
    def payouts_ok_rate(self) -> float:
        return ratio(self.payouts_ok, self.payouts)

    def score_line(self) -> str:
        u = self.unseen
        quarantine = self.quarantine_found or 0
        return (
            f"score: match_p={self.match_precision:.3f} match_r={self.match_recall:.3f} "
            f"detect_r={u.detect_recall:.3f} type_acc={u.type_accuracy:.3f} "
            f"disp_acc={u.disposition_accuracy:.3f} false_exc={self.false_exceptions} "
            f"payouts_ok={self.payouts_ok_rate:.3f} quarantine={quarantine}/{self.bad_rows} "
            f"rejected_back={self.rejected_back} "
            f"confirmed_kept={self.confirmed_kept}/{self.confirmed}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "match_precision": self.match_precision,
            "match_recall": self.match_recall,
            "matches": {
                m.match_type: {
                    "truth": m.truth,
                    "variance_pairs": m.variance_pairs,
                    "predicted": m.predicted,
                    "correct": m.correct,
                    "precision": m.precision,
                    "recall": m.recall,
                }
                for m in self.matches
            },
            "anomalies": _figures(self.all_anomalies),
            "unseen": _figures(self.unseen),
            "per_type": self.per_type,
            "false_exceptions": self.false_exceptions,
            "false_exception_share": round(self.false_exception_share, 4),
            "false_by_scope": self.false_by_scope,
            "false_by_type": self.false_by_type,
            "stripe_items": self.stripe_items,
            "payouts": self.payouts,
            "payouts_ok": self.payouts_ok,
            "payouts_ok_rate": self.payouts_ok_rate,
            "payout_invoice_recall": ratio(self.payout_invoices_found, self.payout_invoice_pairs),
            "rejected_back": self.rejected_back,
            "confirmed_kept": self.confirmed_kept,
            "confirmed": self.confirmed,
            "quarantine_found": self.quarantine_found,
            "bad_rows": self.bad_rows,
            "missed_by_knob": self.missed_by_knob,
            "wrong_by_knob": self.wrong_by_knob,
            **({"bank": self.bank.as_dict()} if self.bank is not None else {}),
        }

    def render(self) -> str:
        lines = [
            f"{'match type':<18}{'truth':>7}{'+var':>6}{'found':>7}{'right':>7}"
            f"{'precision':>11}{'recall':>8}"
        ]
        for m in self.matches:
            lines.append(
                f"{m.match_type:<18}{m.truth:>7}{m.variance_pairs:>6}{m.predicted:>7}"
                f"{m.correct:>7}{m.precision:>11.3f}{m.recall:>8.3f}"
            )
        if self.unscored_match_types:
            lines.append(f"  not scored: {self.unscored_match_types}")
        lines += [
            "",
            f"{'exception_type':<22}{'truth':>6}{'found':>6}{'type':>6}{'disp':>6}"
            f"   unseen{'found':>6}{'type':>6}{'disp':>6}",
        ]
        keys = ("n", "detected", "type_ok", "disp_ok")
        total: Counter[str] = Counter()
        for counts in self.per_type.values():
            total.update(counts)
        for name, counts in [*sorted(self.per_type.items()), ("all", dict(total))]:
            lines.append(
                f"{name:<22}"
                + "".join(f"{counts.get(k, 0):>6}" for k in keys)
                + "   "
                + "".join(f"{counts.get('unseen_' + k, 0):>6}" for k in keys)
            )
        for name, f in (("all", self.all_anomalies), ("unseen", self.unseen)):
            lines.append(
                f"{name + ':':<8}detect_r {f.detect_recall:.3f} type_acc {f.type_accuracy:.3f} "
                f"disp_acc {f.disposition_accuracy:.3f} over {f.anomalies} anomalies"
            )
        lines += [
            f"false exceptions: {self.false_exceptions} ({self.false_exception_share:.2%} of "
            f"{self.stripe_items} Stripe items) by scope {self.false_by_scope} "
            f"by type {self.false_by_type} e.g. {self.false_examples[:5]}",
            f"decisions: {self.rejected_back}/{self.rejected} rejected pairs back as matches, "
            f"{self.confirmed_kept}/{self.confirmed} confirmed pairs kept as confirmed",
            f"payouts right (status and journal): {self.payouts_ok}/{self.payouts}; "
            f"payouts with the right status {self.payouts_status_correct}, with the right "
            f"journal {self.payouts_journal_correct}; status errors {self.payout_status_errors}",
            f"payout invoices: recall "
            f"{ratio(self.payout_invoices_found, self.payout_invoice_pairs):.3f} precision "
            f"{ratio(self.payout_invoices_found, self.payout_invoices_predicted):.3f} "
            f"over {self.payout_invoice_pairs} pairs",
            "quarantine: "
            + (
                "no quarantine table"
                if self.quarantine_found is None
                else f"{self.quarantine_found}/{self.bad_rows} bad rows found"
            ),
        ]
        if self.missed_by_knob or self.wrong_by_knob:
            lines.append(
                f"pairs by mess knob (truth/mess.csv): missed {self.missed_by_knob}; "
                f"wrong {self.wrong_by_knob}"
            )
        if self.missed_anomalies:
            shown = ", ".join(f"{o} ({t})" for o, t in self.missed_anomalies[:10])
            lines.append(f"missed anomalies: {shown}")
        if self.bank is not None:
            lines.append(self.bank.render())
        lines.append(self.score_line())
        return "\n".join(lines)


@dataclass(frozen=True)
class BankScore:
    """The three-way view against the world's bank truth: each statement line's payout, journal
    and status (rpt_bank_reconciliation, keyed by file and position), and the bank exceptions
    (fct_bank_exceptions, by object and type)."""

    lines: int
    lines_found: int
    lines_right: int
    exceptions: int
    exceptions_found: int
    false_exceptions: int
    false_examples: tuple[str, ...]
    payout_bank_status: dict[str, int]
    wrong_lines: tuple[str, ...] = ()

    def render(self) -> str:
        return (
            f"bank: {self.lines_right}/{self.lines} statement lines right (payout, journal, status; "
            f"{self.lines_found} found); exceptions {self.exceptions_found}/{self.exceptions} found, "
            f"{self.false_exceptions} false e.g. {list(self.false_examples[:5])}; payouts by bank status "
            f"{self.payout_bank_status}"
            + (f"; wrong lines e.g. {list(self.wrong_lines[:5])}" if self.wrong_lines else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "lines_right": self.lines_right,
            "exceptions": self.exceptions,
            "exceptions_found": self.exceptions_found,
            "false_exceptions": self.false_exceptions,
            "payout_bank_status": self.payout_bank_status,
        }


def score_bank(
    world: Path,
    lines: Sequence[Sequence[Any]],
    exceptions: Sequence[Sequence[Any]],
    payout_statuses: Sequence[Sequence[Any]],
) -> BankScore | None:
    """The bank side's figures; None for a world without statements.
    `lines`: (source_file, line_position, payout_id, erp_journal_number, status);
    `exceptions`: (object_id, exception_type); `payout_statuses`: (bank_status, count)."""
    truth_lines = _read_csv(world / "truth" / "bank_lines.csv", required=False)
    if not truth_lines:
        return None
    truth_exceptions = {
        (row["object_id"], row["exception_type"])
        for row in _read_csv(world / "truth" / "bank_exceptions.csv", required=False)
    }
    predicted = {(_text(f), _text(p)): (_text(po), _text(je), _text(st)) for f, p, po, je, st in lines}
    right = 0
    wrong: list[str] = []
    for row in truth_lines:
        got = predicted.get((row["file"], row["position"]))
        want = (row["payout_id"], row["erp_journal_number"], row["status"])
        if got == want:
            right += 1
        else:
            wrong.append(f"{row['file']}:{row['position']} {want} got {got}")
    found = {(_text(o), _text(t)) for o, t in exceptions}
    false = sorted(found - truth_exceptions)
    return BankScore(
        lines=len(truth_lines),
        lines_found=sum(1 for row in truth_lines if (row["file"], row["position"]) in predicted),
        lines_right=right,
        exceptions=len(truth_exceptions),
        exceptions_found=len(found & truth_exceptions),
        false_exceptions=len(false),
        false_examples=tuple(f"{o} ({t})" for o, t in false),
        payout_bank_status={_text(status): int(n) for status, n in payout_statuses},
        wrong_lines=tuple(wrong),
    )


def _figures(f: AnomalyFigures) -> dict[str, float | int]:
    return {
        "anomalies": f.anomalies,
        "detected": f.detected,
        "detect_recall": f.detect_recall,
        "type_accuracy": f.type_accuracy,
        "disposition_accuracy": f.disposition_accuracy,
    }


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _score_matches(
    truth: Truth, rows: Iterable[Sequence[Any]]
) -> tuple[list[MatchScore], dict[str, int], dict[str, int], dict[str, int]]:
    predicted: dict[str, set[Pair]] = defaultdict(set)
    other: Counter[str] = Counter()
    for row in rows:
        match_type, stripe_id, doc, _payment, journal, status = (_text(v) for v in row[:6])
        if status.lower() not in OK_STATUS:
            continue
        if match_type not in SCORED_TYPES:
            other[match_type] += 1
            continue
        predicted[match_type].add((stripe_id, journal if match_type == "payout_deposit" else doc))
    empty: frozenset[Pair] = frozenset()
    predicted["charge_payment"] = relabel(
        predicted["charge_payment"], truth.pairs.get("charge_payment", empty), truth.groups
    )
    scores = []
    missed: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for match_type in SCORED_TYPES:
        every, core = truth.pairs.get(match_type, empty), truth.core.get(match_type, empty)
        mine = predicted[match_type]
        for counter, pairs in ((missed, core - mine), (wrong, mine - every)):
            for stripe_id, _ in pairs:
                counter.update(truth.stories.get(stripe_id) or ("-",))
        scores.append(
            MatchScore(
                match_type,
                truth=len(core),
                predicted=len(mine),
                correct=len(mine & every),
                found=len(mine & core),
                variance_pairs=len(every) - len(core),
            )
        )
    return scores, dict(other), dict(sorted(missed.items())), dict(sorted(wrong.items()))


def score(
    world: Path,
    matches: Iterable[Sequence[Any]],
    exceptions: Iterable[Sequence[Any]],
    payouts: Iterable[Sequence[Any]],
    items: int | None = None,
    *,
    payout_invoices: Iterable[Sequence[Any]] = (),
    quarantine: Sequence[tuple[str, str, str]] | None = None,
) -> Evaluation:
    """Scores marts rows against the truth of `world`.

    matches: (match_type, stripe_object_id, erp_document_number, erp_payment_number,
    erp_journal_number, status); exceptions: (object_id, exception_type, disposition);
    payouts: (payout_id, status[, erp_journal_number]); payout_invoices: (payout_id,
    erp_document_number); quarantine: (table, file, line) of every quarantined row, None when
    none could be read. `items` (the warehouse's own count of reconcilable items) is not used:
    false exceptions are a share of the world's Stripe items.
    """
    del items
    truth = Truth.load(world)
    match_rows = [tuple(r) for r in matches]
    match_scores, unscored, missed_by_knob, wrong_by_knob = _score_matches(truth, match_rows)

    by_object: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for object_id, exception_type, disposition, *_ in exceptions:
        by_object[_text(object_id)].append((_text(exception_type), _text(disposition)))
    known: set[str] = set()
    per_type: dict[str, Counter[str]] = defaultdict(Counter)
    missed: list[tuple[str, str]] = []
    for a in truth.anomalies:
        ids = (a.object_id, *a.related)
        known.update(ids)
        hits = [h for i in ids for h in by_object.get(i, ())]
        got = {
            "n": 1,
            "detected": int(bool(hits)),
            "type_ok": int(any(t == a.exception_type for t, _ in hits)),
            "disp_ok": int(any(d == a.disposition for _, d in hits)),
        }
        unseen = a.object_id not in truth.resolved
        counts = per_type[a.exception_type]
        for k, v in got.items():
            counts[k] += v
            counts["unseen_" + k] += v * unseen
        if not hits:
            missed.append((a.object_id, a.exception_type))

    def figures(prefix: str) -> AnomalyFigures:
        n, det, tok, dok = (
            sum(c[prefix + k] for c in per_type.values())
            for k in ("n", "detected", "type_ok", "disp_ok")
        )
        return AnomalyFigures(n, det, tok, dok)

    false = {o: hits[0][0] for o, hits in by_object.items() if o not in known}
    false_by_scope = Counter(
        truth.out_of_scope.get(o) or ("reconciled" if o in truth.reconciled_ids else "other")
        for o in false
    )

    # decisions: a mart row is the decided pair when it names its Stripe object and its
    # ERP document or payment
    by_stripe: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for row in match_rows:
        by_stripe[_text(row[1])].append(tuple(_text(v) for v in row[:6]))

    def statuses(pair: tuple[str, str, str]) -> set[str]:
        sid, doc, payment = pair
        return {
            r[5].lower()
            for r in by_stripe.get(sid, ())
            if (doc and r[2] == doc) or (payment and r[3] == payment)
        }

    rejected_back = sum(1 for p in truth.rejected if statuses(p) - {"rejected"})
    confirmed_kept = sum(1 for p in truth.confirmed if "confirmed" in statuses(p))

    marts_payouts = {_text(r[0]): (_text(r[1]), _text(r[2]) if len(r) > 2 else None) for r in payouts}
    status_ok = journal_ok = both_ok = 0
    status_errors: Counter[str] = Counter()
    for payout_id, (status, journal) in truth.payouts.items():
        got_payout = marts_payouts.get(payout_id)
        s_ok = got_payout is not None and got_payout[0] == status
        j_ok = got_payout is not None and (got_payout[1] or "") == journal
        status_ok += s_ok
        journal_ok += j_ok
        both_ok += s_ok and j_ok
        if not s_ok:
            status_errors[f"{status}->{got_payout[0] if got_payout else 'absent'}"] += 1
    predicted_rollup = relabel(
        {(_text(p), _text(d)) for p, d, *_ in payout_invoices}, truth.payout_invoices, truth.groups
    )

    found_bad: int | None = None
    if quarantine is not None:
        # the text of its file columns (or the table's name) -> the lines it quarantined
        lines: dict[str, set[str]] = defaultdict(set)
        for table, file_text, line in quarantine:
            lines[(file_text or table).lower()].add(line)
        found_bad = sum(
            1
            for file, line in truth.bad_rows
            if any(
                file.rsplit(".", 1)[0].lower() in text and str(line) in q_lines
                for text, q_lines in lines.items()
            )
        )

    return Evaluation(
        matches=match_scores,
        unscored_match_types=unscored,
        all_anomalies=figures(""),
        unseen=figures("unseen_"),
        per_type={k: dict(v) for k, v in per_type.items()},
        false_exceptions=len(false),
        false_by_scope=dict(false_by_scope),
        false_by_type=dict(Counter(false.values())),
        false_examples=sorted(false)[:10],
        stripe_items=truth.stripe_items,
        payouts=len(truth.payouts),
        payouts_ok=both_ok,
        payouts_status_correct=status_ok,
        payouts_journal_correct=journal_ok,
        payout_status_errors=dict(status_errors),
        payout_invoice_pairs=len(truth.payout_invoices),
        payout_invoices_found=len(truth.payout_invoices & predicted_rollup),
        payout_invoices_predicted=len(predicted_rollup),
        rejected=len(truth.rejected),
        rejected_back=rejected_back,
        confirmed=len(truth.confirmed),
        confirmed_kept=confirmed_kept,
        bad_rows=len(truth.bad_rows),
        quarantine_found=found_bad,
        missed_anomalies=missed,
        missed_by_knob=missed_by_knob,
        wrong_by_knob=wrong_by_knob,
    )


# ------------------------------------------------------------------ reading the warehouse
_MATCHES_SQL = (
    "select match_type, stripe_object_id, erp_document_number, erp_payment_number, "
    "erp_journal_number, status from {marts}.fct_reconciliation_matches"
)
_EXCEPTIONS_SQL = (
    "select object_id, exception_type, disposition from {marts}.fct_reconciliation_exceptions"
)
_PAYOUTS_SQL = "select payout_id, status, erp_journal_number from {marts}.rpt_payout_reconciliation"
_PAYOUT_INVOICES_SQL = "select payout_id, erp_document_number from {marts}.rpt_payout_invoices"
# Items that are matched or are an exception (docs/contract.md section 6, conservation).
_ITEMS_SQL = (
    "select (select count(*) from {staging}.stg_stripe__charges where is_succeeded)"
    " + (select count(*) from {staging}.stg_stripe__refunds)"
    " + (select count(*) from {staging}.stg_stripe__disputes)"
    " + (select count(*) from {staging}.stg_stripe__payouts)"
    " + (select count(*) from {staging}.stg_erp__payments where is_stripe_payment)"
)
_QUARANTINE_TABLES_SQL = (
    "select t.table_schema, t.table_name, c.column_name from information_schema.tables as t "
    "inner join information_schema.columns as c "
    "on c.table_schema = t.table_schema and c.table_name = t.table_name "
    "where lower(t.table_name) like '%quarantine%' "
    "and t.table_schema not in ('information_schema', 'pg_catalog')"
)
_FILE_COLUMNS = ("file", "file_name", "source_file", "source", "table_name", "source_table")


def _quarantine_queries(columns: Iterable[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(table, query) for each quarantine table that has a line column: its rows as
    (file text, line)."""
    by_table: dict[tuple[str, str], list[str]] = defaultdict(list)
    for table_schema, table_name, column in columns:
        by_table[(table_schema, table_name)].append(column)
    queries = []
    for (table_schema, table_name), cols in sorted(by_table.items()):
        lower = {c.lower(): c for c in cols}
        line = lower.get("line") or lower.get("line_number")
        if line is None:
            continue
        files = [lower[c] for c in _FILE_COLUMNS if c in lower]
        file_text = (
            " || ' ' || ".join(f"coalesce(cast(\"{c}\" as varchar), '')" for c in files)
            if files
            else "''"
        )
        queries.append(
            (
                f"{table_schema}.{table_name}",
                f'select {file_text}, cast("{line}" as varchar) '
                f'from "{table_schema}"."{table_name}"',
            )
        )
    return queries


def _fetch(settings: Settings) -> dict[str, Any]:
    names = {"marts": schema("marts"), "staging": schema("staging")}
    queries = [
        q.format(**names)
        for q in (_MATCHES_SQL, _EXCEPTIONS_SQL, _PAYOUTS_SQL, _PAYOUT_INVOICES_SQL)
    ]
    results = fetch_all(settings, [*queries, _QUARANTINE_TABLES_SQL])
    quarantine: list[tuple[str, str, str]] | None = None
    tables = _quarantine_queries(results[4])
    if tables:
        rows = fetch_all(settings, [q for _, q in tables])
        quarantine = [
            (table, _text(file_text), _text(line))
            for (table, _), table_rows in zip(tables, rows, strict=True)
            for file_text, line in table_rows
        ]
    return {
        "matches": results[0],
        "exceptions": results[1],
        "payouts": results[2],
        "payout_invoices": results[3],
        "quarantine": quarantine,
    }


def evaluate(settings: Settings, world: Path) -> Evaluation:
    """Scores the warehouse of `settings` against the truth of the world in `world`."""
    if not (world / "truth").is_dir():
        raise UserError(f"{world} has no truth/ folder: pass --world a demo world directory.")
    rows = _fetch(settings)
    evaluation = score(
        world,
        rows["matches"],
        rows["exceptions"],
        rows["payouts"],
        payout_invoices=rows["payout_invoices"],
        quarantine=rows["quarantine"],
    )
    if (world / "truth" / "bank_lines.csv").exists():
        marts = schema("marts")
        bank_lines, bank_exceptions, statuses = fetch_all(settings, [
            f"select source_file, line_position, payout_id, erp_journal_number, status from {marts}.rpt_bank_reconciliation",
            f"select object_id, exception_type from {marts}.fct_bank_exceptions",
            f"select bank_status, count(*) from {marts}.rpt_payout_reconciliation group by bank_status order by 1",
        ])
        evaluation = replace(evaluation, bank=score_bank(world, bank_lines, bank_exceptions, statuses))
    return evaluation
