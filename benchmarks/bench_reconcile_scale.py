"""The reconciliation at scale: `dbt build` with the scored matching, then classify, on worlds of
N charges side by side (100k and 1M), with each step's time and the slowest models.

    .venv/bin/python benchmarks/bench_reconcile_scale.py --scale 100000 --scale 1000000 [--seed 7]
        [--world-arg=--mess --world-arg=messy]   (extra arguments for the world generator)

For each scale: generates the world (or reuses it) under --work-dir with `python -m
demoworld.world`, loads it straight into a fresh DuckDB file (benchmarks/load_world_direct.py:
the ingestion's own row shaping and dlt pipeline, without HTTP), then runs in a child process what
`recon run` runs after ingestion, timed step by step: dbt build up to the candidate pairs, the
match scorer, dbt build of what the weights feed, classify and the exceptions mart rebuilt.
Peak memory is the child's. Targets (issue 11): dbt build + classify at 1M charges <= 60 s on
2 cores, cost growing near-linearly from 100k to 1M.
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

_CHILD = r"""
import json, resource, sys, time
from core.settings import resolve
from recon.dbt import describe, run_dbt, settings_env
from ml.match_scorer import DOWNSTREAM_SELECTOR, learn
from ml.classification import classify

settings = resolve(warehouse=sys.argv[1], target="duckdb", env={})
env = settings_env(settings)
steps, nodes = [], []
def step(name, fn):
    started = time.monotonic()
    result = fn()
    steps.append((name, time.monotonic() - started))
    for node in getattr(getattr(result, "result", None), "results", None) or []:
        nodes.append((node.node.name, str(node.node.resource_type), node.execution_time))
    return result
step("dbt build (up to the candidate pairs)", lambda: run_dbt(["build", "--exclude", DOWNSTREAM_SELECTOR], env))
report = step("match scorer", lambda: learn(settings))
step("dbt build (scored pairs and downstream)", lambda: run_dbt(["build", "--select", DOWNSTREAM_SELECTOR], env))
step("classify", lambda: classify(settings))
step("dbt build (exceptions mart)", lambda: run_dbt(["build", "--select", "stg_ml__exception_classifications+"], env))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"steps": steps, "scorer": report.render(), "nodes": sorted(nodes, key=lambda n: -n[2]), "peak_kb": peak}))
"""


def _world(scale: int, seed: int, work: Path, world_args: list[str]) -> Path:
    suffix = "-".join(a.lstrip("-").replace("=", "_") for a in world_args)
    world = work / f"world-s{seed}-{scale}{('-' + suffix) if suffix else ''}"
    if not (world / "manifest.json").exists():
        started = time.monotonic()
        subprocess.run(
            [str(BIN / "python"), "-m", "demoworld.world", "--scale", str(scale), "--seed", str(seed),
             "--out", str(world), *world_args],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )
        print(f"  world generated in {time.monotonic() - started:.0f} s: {world}")
    return world


def _load(world: Path, work: Path) -> Path:
    warehouse = work / f"{world.name}.duckdb"
    if not warehouse.exists():
        started = time.monotonic()
        subprocess.run(
            [str(BIN / "python"), str(ROOT / "benchmarks" / "load_world_direct.py"),
             "--world", str(world), "--warehouse", str(warehouse)],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )
        print(f"  loaded in {time.monotonic() - started:.0f} s: {warehouse}")
    return warehouse


def _run(warehouse: Path) -> dict[str, object]:
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    started = time.monotonic()
    child = subprocess.Popen(
        [str(BIN / "python"), "-c", _CHILD, str(warehouse)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    out, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the pipeline failed on {warehouse} (exit {child.returncode})")
    elapsed = time.monotonic() - started
    result = json.loads(out.strip().splitlines()[-1])
    result["wall"] = elapsed
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, action="append", help="charges in the world (repeatable)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "warehouse" / "bench")
    parser.add_argument("--world-arg", action="append", default=[], help="an argument for the world generator")
    parser.add_argument("--top", type=int, default=8, help="how many of the slowest models to print")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for scale in args.scale or [100_000]:
        print(f"scale {scale:,} (seed {args.seed}) {' '.join(args.world_arg)}", flush=True)
        warehouse = _load(_world(scale, args.seed, args.work_dir, args.world_arg), args.work_dir)
        result = _run(warehouse)
        steps = result["steps"]
        total = sum(seconds for _, seconds in steps)  # type: ignore[union-attr]
        print(f"  {result['scorer']}")
        for name, seconds in steps:  # type: ignore[union-attr]
            print(f"    {seconds:7.1f} s  {name}")
        print(f"    {total:7.1f} s  in all; peak memory {int(result['peak_kb']) / 1024:.0f} MB")  # type: ignore[call-overload]
        nodes = result["nodes"]
        for kind in ("model", "test", "unit_test", "seed"):
            of_kind = [(name, seconds) for name, node_kind, seconds in nodes if node_kind == kind]  # type: ignore[union-attr]
            if of_kind:
                print(f"  {kind}s: {len(of_kind)}, {sum(s for _, s in of_kind):.1f} s summed over 2 threads")
        print("  slowest models and tests:")
        for name, kind, seconds in nodes[: args.top]:  # type: ignore[index]
            print(f"    {seconds:7.2f} s  {name} ({kind})")
        rows.append((scale, total, steps))
    if len(rows) > 1:
        (small, t_small, _), (large, t_large, _) = rows[0], rows[-1]
        print(f"growth: {large / small:.0f}x the charges took {t_large / t_small:.1f}x the time "
              f"({t_small:.1f} s -> {t_large:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
