"""A BI tool reading a DuckDB file, as its own light process (duckdb alone), for bench_bi_reads.py.

    python benchmarks/bi_reader.py poll PATH STOP_FILE [--publication]
    python benchmarks/bi_reader.py hold PATH SECONDS

`poll`: a dashboard refreshing every 100 ms: connect read-only, query a mart, close; until
STOP_FILE exists. `hold`: one read-only connection kept open for SECONDS, a query every second.
Each prints `ready` once it has read (or tried to), then one JSON line of what it saw: reads as
[ms, the copy's micro-batch] (with --publication, from recon_meta.publication), errors as
[ms, message].
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

MART_QUERY = (
    "select count(*), coalesce(sum(stripe_amount_minor), 0) from marts.fct_reconciliation_matches"
)
PUBLISHED_QUERY = "select webhook_batch_id from recon_meta.publication"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ready() -> None:
    print("ready", flush=True)


def poll(path: str, stop_file: Path, publication: bool) -> dict[str, Any]:
    reads: list[tuple[int, int | None]] = []
    errors: list[tuple[int, str]] = []
    while not stop_file.exists():
        at = _now_ms()
        try:
            connection = duckdb.connect(path, read_only=True)
            try:
                connection.execute(MART_QUERY).fetchall()
                row = connection.execute(PUBLISHED_QUERY).fetchone() if publication else None
            finally:
                connection.close()
            reads.append((at, None if row is None else row[0]))
        except duckdb.Error as error:
            errors.append((at, str(error)))
        if len(reads) + len(errors) == 1:
            _ready()
        time.sleep(0.1)
    return {"reads": reads, "errors": errors}


def hold(path: str, seconds: float) -> dict[str, Any]:
    queries = 0
    errors: list[tuple[int, str]] = []
    answers: set[str] = set()
    deadline = time.monotonic() + seconds
    connection = None
    while time.monotonic() < deadline:
        try:
            if connection is None:
                connection = duckdb.connect(path, read_only=True)
            answers.add(repr(connection.execute(MART_QUERY).fetchone()))
            queries += 1
        except duckdb.Error as error:
            errors.append((_now_ms(), str(error)))
        if queries + len(errors) == 1:
            _ready()
        time.sleep(1.0)
    if connection is not None:
        connection.close()
    return {"queries": queries, "errors": errors, "answers": sorted(answers)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("poll", "hold"))
    parser.add_argument("path")
    parser.add_argument("arg", help="poll: the stop file; hold: seconds")
    parser.add_argument("--publication", action="store_true")
    args = parser.parse_args()
    if args.mode == "poll":
        result = poll(args.path, Path(args.arg), args.publication)
    else:
        result = hold(args.path, float(args.arg))
    json.dump(result, sys.stdout)
    print(flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
