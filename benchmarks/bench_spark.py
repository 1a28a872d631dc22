"""dbt on local Spark beside DuckDB, on the same demo worlds: wall time and peak memory.

    .venv/bin/python benchmarks/bench_spark.py --scale 100000 [--scale 1000000] [--seed 7]

For each scale: generates (or reuses) the world under --work-dir and loads its files straight
into a DuckDB file and into the lake of the spark target (benchmarks/load_world_direct.py: the
ingestion's own rows and dlt pipelines, without HTTP), then runs the same dbt command on both,
each in a child process: DuckDB's `dbt`, and on Spark a process that starts the local session
(2 cores, `local[2]`), registers the lake's tables in its catalog and runs dbt in it. Time is
wall time of the child; memory is the peak resident memory of the child and every process it
started (the JVM is a child of Python), sampled every 0.2 s. With two scales it prints how
time grows.

What it builds (`--dbt`, default `build --exclude-resource-type unit_test`): every model and
data test, on both; dbt's unit tests are left out on both because `recon run` leaves them out
on Spark (DECISIONLOG.md, "What runs on Spark"). The match scorer does not run: both build with
the seed's prior weights.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
DBT = ROOT / ".venv" / "bin" / "dbt"

SPARK_CHILD = """
import sys, time
from core.settings import resolve
from core.spark import session
from recon.pipeline import register_lake
from recon.dbt import run_dbt, settings_env
settings = resolve(warehouse=sys.argv[1], target="spark", env={})
started = time.monotonic()
session(settings)
register_lake(settings)
print(f"  spark: session and lake tables ready in {time.monotonic() - started:.1f} s", flush=True)
run_dbt(["seed"], settings_env(settings))
run_dbt(sys.argv[2:], settings_env(settings), quiet=False)
"""


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, in kB (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in (Path("/proc") / str(current) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _measure(argv: list[str], env: dict[str, str]) -> tuple[int, float, int]:
    """Runs argv; returns its exit code, wall seconds and peak tree memory (MB)."""
    started = time.monotonic()
    child = subprocess.Popen(argv, cwd=ROOT, env=env)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss_kb(child.pid))
        time.sleep(0.2)
    return child.returncode, time.monotonic() - started, peak // 1024


def _load() -> str:
    """The machine's load average after a measurement: figures from a shared machine say so."""
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def _prepare(scale: int, seed: int, work: Path) -> tuple[Path, Path]:
    world = work / f"world-s{seed}-{scale}"
    if not (world / "stripe").exists():
        subprocess.run(
            [str(PYTHON), "-c", "import sys; from pathlib import Path; from demoworld.world import WorldSpec, "
             "generate_world; generate_world(WorldSpec(seed=int(sys.argv[1]), scale=int(sys.argv[2])), Path(sys.argv[3]))",
             str(seed), str(scale), str(world)],
            check=True, cwd=ROOT,
        )
    duck, spark = work / f"duckdb-s{seed}-{scale}.duckdb", work / f"spark-s{seed}-{scale}.duckdb"
    for warehouse, target in ((duck, "duckdb"), (spark, "spark")):
        marker = warehouse.with_suffix(".loaded")
        if not marker.exists():
            subprocess.run(
                [str(PYTHON), str(ROOT / "benchmarks" / "load_world_direct.py"), "--world", str(world),
                 "--warehouse", str(warehouse), "--target", target],
                check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
            )
            marker.touch()
    return duck, spark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, action="append", help="charges in the world (repeatable)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "warehouse" / "bench-spark")
    parser.add_argument("--dbt", default="build --exclude-resource-type unit_test", help="the dbt command, on both")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.split(args.dbt)
    base = {**os.environ, "DO_NOT_TRACK": "1", "RUNTIME__DLTHUB_TELEMETRY": "false"}
    figures: dict[str, list[tuple[int, float, int]]] = {"duckdb": [], "spark": []}
    for scale in args.scale or [100_000]:
        print(f"scale {scale:,} (seed {args.seed}): dbt {args.dbt}", flush=True)
        duck, spark = _prepare(scale, args.seed, args.work_dir)
        env = {**base, "RECON_WAREHOUSE": str(duck), "RECON_TARGET": "duckdb"}
        subprocess.run([str(DBT), "seed", "--quiet"], cwd=ROOT, env=env, check=True)
        code, seconds, peak = _measure([str(DBT), *command, "--quiet"], env)
        print(f"  duckdb: {'ok' if code == 0 else 'FAILED'} in {seconds:.1f} s, peak {peak:,} MB, {_load()}", flush=True)
        figures["duckdb"].append((scale, seconds, peak))
        code, seconds, peak = _measure([str(PYTHON), "-c", SPARK_CHILD, str(spark), *command], base)
        print(f"  spark (local[2]): {'ok' if code == 0 else 'FAILED'} in {seconds:.1f} s "
              f"(JVM start and catalog included), peak {peak:,} MB, {_load()}", flush=True)
        figures["spark"].append((scale, seconds, peak))
    for target, rows in figures.items():
        if len(rows) >= 2:
            (s0, t0, _), (s1, t1, _) = rows[0], rows[-1]
            print(f"{target}: {s1 / s0:.0f}x the data took {t1 / t0:.1f}x the time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
