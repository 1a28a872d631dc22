"""`dbt build` on demo worlds of N charges: total and per-model time, and peak memory.

    .venv/bin/python benchmarks/bench_dbt_build.py --scale 100000 [--scale 1000000] [--seed 7]

For each scale: generates (or reuses) the world under --work-dir, loads it into a fresh DuckDB
file through the local Stripe-compatible API (`recon demo`), then runs `dbt build` in a child
process (so its peak resident memory is measured alone) and prints the slowest models from
target/run_results.json. Targets at 1M charges on 2 cores: at most 60 s and 6 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"


def _load(scale: int, seed: int, work: Path) -> Path:
    world, warehouse = work / f"world-s{seed}-{scale}", work / f"bench-s{seed}-{scale}.duckdb"
    if not warehouse.exists():
        subprocess.run(
            [str(BIN / "recon"), "demo", "--scale", str(scale), "--seed", str(seed),
             "--world-dir", str(world), "--warehouse", str(warehouse)],
            check=True, stdout=subprocess.DEVNULL,
        )
    return warehouse


def _build(warehouse: Path, top: int) -> None:
    env = {**os.environ, "RECON_WAREHOUSE": str(warehouse), "RECON_TARGET": "duckdb", "DO_NOT_TRACK": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    done = subprocess.run([str(BIN / "dbt"), "build", "--quiet"], cwd=ROOT, env=env, check=False)
    elapsed = time.monotonic() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    results = json.loads((ROOT / "target" / "run_results.json").read_text())["results"]
    timed = sorted(results, key=lambda r: r.get("execution_time", 0), reverse=True)
    print(f"  dbt build: {'ok' if done.returncode == 0 else 'FAILED'} in {elapsed:.1f} s "
          f"(dbt's own: {sum(r.get('execution_time', 0) for r in results):.1f} s summed over nodes); "
          f"peak memory {max(peak_kb, before) / 1024:.0f} MB")
    for r in timed[:top]:
        print(f"    {r['execution_time']:7.2f} s  {r['unique_id']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, action="append", help="charges in the world (repeatable)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "warehouse" / "bench")
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest nodes to print")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    for scale in args.scale or [100_000]:
        print(f"scale {scale:,} (seed {args.seed})")
        _build(_load(scale, args.seed, args.work_dir), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
