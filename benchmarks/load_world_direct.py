"""Load a demo world's files straight into a warehouse, without HTTP, for big benchmarks.

Through the local Stripe-compatible API a 1M-charge world (about 9.5M objects) takes most of
an hour to load; the dbt benchmark needs the same raw tables, not the HTTP path. This loader
uses the ingestion's own row shaping, hints and dlt pipeline (`ingest.stripe.Batcher`), so
`raw_stripe` has the same columns and types as after `recon ingest stripe`; the ERP and the
decisions go through the real loaders. What it skips is what the Stripe benchmark measures:
requests, slicing and the rate cap.

    .venv/bin/python benchmarks/load_world_direct.py --world DIR --warehouse FILE
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import dlt

from core.settings import resolve
from ingest import destinations
from ingest.decisions import load_decisions
from ingest.erp import load_erp
from ingest.stripe import COMPOSITION_TABLE, Batcher
from ingest.stripe.settings import PAYOUT_COMPOSITION_COLUMNS, PAYOUT_FINAL_STATUSES, RESOURCES


def _objects(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--target", default="duckdb", choices=("duckdb", "spark"),
                        help="spark: the lake beside the warehouse (<stem>.lake, or RECON_LAKE_PATH)")
    args = parser.parse_args()
    world: Path = args.world
    settings = replace(
        resolve(env={}),
        warehouse=args.warehouse.resolve(),
        target=args.target,
        erp_dir=world / "erp",
        decisions_dir=world / "decisions",
    )
    loaded_at_ms = int(time.time() * 1000)
    # The lake's Delta merge is an upsert (each object is in the files once: nothing to deduplicate).
    strategy = "upsert" if args.target == "spark" else "delete-insert"

    @dlt.resource(name="stripe_objects", write_disposition="merge")
    def stripe_files() -> Iterator[Any]:
        final_payouts = set()
        for resource, (_, columns) in RESOURCES.items():
            batch = Batcher(resource, columns, "id", merge_strategy=strategy)
            for obj in _objects(world / "stripe" / f"{resource}.jsonl"):
                if resource == "payouts" and obj.get("status") in PAYOUT_FINAL_STATUSES:
                    final_payouts.add(obj["id"])
                yield from batch.add(obj, loaded_at_ms)
            yield from batch.flush()
            print(f"  {resource}: {batch.count:,} rows", flush=True)
        composition = Batcher(
            COMPOSITION_TABLE, PAYOUT_COMPOSITION_COLUMNS, ["payout_id", "balance_transaction_id"],
            merge_strategy=strategy,
        )
        with (world / "stripe" / "payout_balance_transactions.csv").open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["payout_id"] in final_payouts:
                    yield from composition.add(dict(row), loaded_at_ms)
        yield from composition.flush()
        print(f"  {COMPOSITION_TABLE}: {composition.count:,} rows", flush=True)

    started = time.monotonic()
    pipeline = destinations.pipeline("recon_stripe", "raw_stripe", settings)
    pipeline.run(stripe_files(), loader_file_format="parquet", table_format=destinations.table_format(settings))
    print(f"raw_stripe loaded in {time.monotonic() - started:.1f} s", flush=True)
    started = time.monotonic()
    print(load_erp(settings).render())
    print(load_decisions(settings).render())
    print(f"raw_erp and raw_decisions loaded in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
