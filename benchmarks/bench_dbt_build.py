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
    started = time.monotonic()
    child = subprocess.Popen([str(BIN / "dbt"), "build", "--quiet"], cwd=ROOT, env=env)
    # wait4: the resource usage of this child alone (RUSAGE_CHILDREN would also count the load).
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    results = json.loads((ROOT / "target" / "run_results.json").read_text())["results"]
    models = sorted(
        (r for r in results if r["unique_id"].startswith("model.")),
        key=lambda r: r.get("execution_time", 0), reverse=True,
    )
    others = sorted(
        (r for r in results if not r["unique_id"].startswith("model.")),
        key=lambda r: r.get("execution_time", 0), reverse=True,
    )
    summed = {
        kind: sum(r.get("execution_time", 0) for r in results if r["unique_id"].startswith(kind))
        for kind in ("model.", "test.", "unit_test.", "seed.")
    }
    print(f"  dbt build: {'ok' if child.returncode == 0 else 'FAILED'} in {elapsed:.1f} s wall; "
          f"peak memory {usage.ru_maxrss / 1024:.0f} MB; user+sys CPU {usage.ru_utime + usage.ru_stime:.1f} s")
    print("  summed over nodes (2 threads run side by side): "
          + ", ".join(f"{kind.rstrip('.')}s {seconds:.1f} s" for kind, seconds in summed.items()))
    print(f"  models ({len(models)}), slowest first:")
    for r in models[: top if top > 0 else len(models)]:
        print(f"    {r['execution_time']:7.2f} s  {r['unique_id'].removeprefix('model.recon.')}")
    print("  slowest tests and seeds:")
    for r in others[:5]:
        print(f"    {r['execution_time']:7.2f} s  {r['unique_id']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, action="append", help="charges in the world (repeatable)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "warehouse" / "bench")
    parser.add_argument("--top", type=int, default=0, help="how many of the slowest models to print (0: all)")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    for scale in args.scale or [100_000]:
        print(f"scale {scale:,} (seed {args.seed})")
        _build(_load(scale, args.seed, args.work_dir), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
