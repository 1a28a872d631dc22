"""Benchmark of the demo-world generator: wall time, objects written, peak memory.

.venv/bin/python benchmarks/bench_world.py --scale 100000 [--seed 42] [--keep DIR]
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from demoworld.world import WorldSpec, generate_world


def _disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = args.keep or Path(tempfile.mkdtemp(prefix="bench_world_"))
    try:
        t0 = time.perf_counter()
        summary = generate_world(WorldSpec(seed=args.seed, scale=args.scale), out)
        wall = time.perf_counter() - t0
        size = _disk_bytes(out)
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    print(f"scale            {args.scale:,} sales (seed {args.seed})")
    print(f"wall time        {wall:.1f} s")
    print(f"objects written  {summary.objects_written:,}")
    for name, count in sorted(summary.counts.items()):
        print(f"  {name:<28}{count:>12,}")
    print(f"anomalies        {sum(summary.anomalies.values()):,}  bad rows {summary.bad_rows}")
    print(f"on disk          {size / 1e6:,.0f} MB")
    print(f"peak RSS         {peak_mib:,.0f} MiB")
    print(f"throughput       {args.scale / wall:,.0f} sales/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
