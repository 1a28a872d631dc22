"""Read a world's Stripe files back (the layout of WORLD_FORMAT.md): for the tests and the
benchmarks of the local Stripe API, which compare what it serves with what was written.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


def iter_stripe_objects(world_dir: Path, resource: str) -> Iterator[dict[str, Any]]:
    """The objects of one resource (`charges`, `events`, ...) in the order they were written."""
    with (Path(world_dir) / "stripe" / f"{resource}.jsonl").open("rb") as fh:
        for line in fh:
            if line.strip():
                obj: dict[str, Any] = orjson.loads(line)
                yield obj


def read_stripe_objects(world_dir: Path, resource: str) -> list[dict[str, Any]]:
    """All the objects of one resource, in the order they were written."""
    return list(iter_stripe_objects(world_dir, resource))


def payout_composition(world_dir: Path) -> dict[str, set[str]]:
    """payout id -> the ids of the balance transactions it settled (its own included)."""
    out: dict[str, set[str]] = defaultdict(set)
    path = Path(world_dir) / "stripe" / "payout_balance_transactions.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["payout_id"]].add(row["balance_transaction_id"])
    return dict(out)
