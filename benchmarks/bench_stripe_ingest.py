"""Stripe ingestion throughput: a demo world served locally, loaded into a fresh DuckDB file.

Prints the first load (objects, requests, seconds, objects per second, peak memory) and an
incremental second run over the unchanged world (requests and seconds), as `recon ingest
stripe` would do them, through the real `stripe` library against the local API.

    .venv/bin/python benchmarks/bench_stripe_ingest.py --scale 20000 [--world DIR] [--max-rps 1000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from core.settings import resolve
from demoworld.stripe_api import StripeAPIServer
from demoworld.world import WorldSpec, generate_world
from ingest.stripe.load import load_stripe

KEY = "sk_test_bench_key_0000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--world", type=Path, help="an existing world (default: generate one)")
    parser.add_argument("--max-rps", type=float, default=1_000.0, help="client request cap (the local API is not Stripe)")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-stripe-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        world = args.world
        if world is None:
            world = tmp / "world"
            started = time.monotonic()
            generate_world(WorldSpec(seed=args.seed, scale=args.scale), world)
            print(f"world: scale {args.scale} generated in {time.monotonic() - started:.1f} s")
        with StripeAPIServer(world, api_keys=(KEY,), index_path=tmp / "index.sqlite3") as server:
            print(f"index build: {server.index_build_seconds or 0.0:.1f} s")
            settings = replace(
                resolve(env={}),
                warehouse=tmp / "bench.duckdb",
                stripe_api_base=server.url,
                stripe_api_key=KEY,
                stripe_max_rps=args.max_rps,
            )
            for label in ("first load", "second run (nothing new)"):
                started = time.monotonic()
                report = load_stripe(settings, pipelines_dir=tmp / "pipelines", workers=args.workers)
                seconds = time.monotonic() - started
                rows = sum(t.new_rows + t.updated_rows for t in report.tables)
                read = server.stats.objects_served
                requests = server.stats.total
                server.reset_stats()
                print(
                    f"{label}: {read:,} objects served in {requests:,} requests, "
                    f"{rows:,} rows new or updated, {seconds:.1f} s, {read / seconds:,.0f} objects/s"
                )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (this process, server included): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
