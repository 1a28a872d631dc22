"""How well a match's confidence says how often it is right, on demo worlds with a truth.

    .venv/bin/python benchmarks/bench_calibration.py --run WORLD_DIR WAREHOUSE [--run ...]
    .venv/bin/python benchmarks/bench_calibration.py --matrix-dir warehouse/bench/matrix

Reads the matches mart of each warehouse (charge, refund and payout matches that count as
matches: auto_matched, suggested, confirmed) and its world's truth (recon/evaluate.py's
conventions: a pair in an interchangeable group is right when its charge and some document of
the group are a true pair), then prints, for the confidence the mart gives (the rule's or the
scorer's) and for the scorer's own `match_probability`: per band of confidence, how many pairs
and how many of them right, against the band's mean confidence, and the expected calibration
error (the gap weighted by the pairs in each band). Issue 11 asks that of the pairs at 0.9,
about 90 % be right.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recon.evaluate import Truth  # noqa: E402

BANDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001)
SCORED = ("charge_payment", "refund_payment", "payout_deposit")


def _pairs(world: Path, warehouse: Path) -> list[tuple[str, float | None, float | None, bool]]:
    truth = Truth.load(world)
    group_of = {doc: group for group in truth.groups for doc in group}
    true_pairs = {k: set(v) for k, v in truth.pairs.items()}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select match_type, stripe_object_id, erp_document_number, erp_journal_number, rule_name, "
            "confidence, match_probability from marts.fct_reconciliation_matches "
            "where status in ('auto_matched', 'suggested', 'confirmed')"
        ).fetchall()
    out = []
    for match_type, stripe_id, doc, journal, rule, confidence, probability in rows:
        if match_type not in SCORED:
            continue
        key = (stripe_id, journal if match_type == "payout_deposit" else doc)
        right = key in true_pairs.get(match_type, set())
        if not right and doc in group_of:
            right = any((stripe_id, other) in true_pairs.get(match_type, set()) for other in group_of[doc])
        out.append(
            (rule, float(confidence) if confidence is not None else None,
             float(probability) if probability is not None else None, right)
        )
    return out


def _table(name: str, values: list[tuple[float, bool]]) -> None:
    bands: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for value, right in values:
        for i in range(len(BANDS) - 1):
            if BANDS[i] <= value < BANDS[i + 1]:
                bands[i].append((value, right))
                break
    total = len(values)
    ece = 0.0
    print(f"\n{name}: {total:,} pairs")
    print(f"  {'band':<12}{'pairs':>8}{'right':>8}{'share right':>13}{'mean conf.':>12}")
    for i in range(len(BANDS) - 1):
        rows = bands.get(i, [])
        if not rows:
            continue
        right = sum(1 for _, r in rows if r)
        mean = sum(v for v, _ in rows) / len(rows)
        share = right / len(rows)
        ece += abs(share - mean) * len(rows) / total
        high = min(BANDS[i + 1], 1.0)
        print(f"  {BANDS[i]:.2f}-{high:.2f}  {len(rows):>8,}{right:>8,}{share:>13.3f}{mean:>12.3f}")
    print(f"  expected calibration error: {ece:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", nargs=2, action="append", default=[], metavar=("WORLD", "WAREHOUSE"))
    parser.add_argument("--matrix-dir", type=Path, help="every <run>/world and <run>/*.duckdb under it")
    args = parser.parse_args(argv)
    runs = [(Path(w), Path(h)) for w, h in args.run]
    if args.matrix_dir:
        # bench_matrix.py's layout: <world>/ (with truth/) beside <world>-<mode>/warehouse.duckdb
        for world in sorted(path.parent for path in args.matrix_dir.glob("*/truth")):
            for warehouse in sorted(args.matrix_dir.glob(f"{world.name}-*/warehouse.duckdb")):
                runs.append((world, warehouse))
    if not runs:
        parser.error("give --run WORLD WAREHOUSE or --matrix-dir DIR")
    every: list[tuple[str, float | None, float | None, bool]] = []
    for world, warehouse in runs:
        pairs = _pairs(world, warehouse)
        wrong = sum(1 for *_, right in pairs if not right)
        print(f"{warehouse}: {len(pairs):,} pairs, {wrong:,} wrong")
        every += pairs
    _table("confidence (the rule's, or the scorer's for scored pairs)", [(c, r) for _, c, _, r in every if c is not None])
    _table("match_probability (the scorer's, every scored candidate pair)", [(p, r) for _, _, p, r in every if p is not None])
    scored = [(c, r) for rule, c, _, r in every if c is not None and rule.startswith("scored_")]
    if scored:
        _table("confidence of the scored matching's own pairs", scored)
    return 0


if __name__ == "__main__":
    sys.exit(main())
