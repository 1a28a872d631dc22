"""BI reading the marts while `recon serve` applies a webhook burst: failed reads, failed
micro-batches, and how long an event takes to be readable where BI reads.

    .venv/bin/python benchmarks/bench_bi_reads.py [--read copy|warehouse] [--scale 20000]
        [--seed 11] [--live-days 60] [--max-events 6000] [--rate 100] [--hold 60]

A demo world is loaded by the batch run up to `--live-days` before its end (once; kept in
`--work-dir` and copied for each run). Then `recon serve` runs as its own process in front of
the copy, and two BI readers start, each a process of its own as BI tools are:

- a poller: a new read-only connection every 100 ms, one query of a mart, closed;
- a holder: one read-only connection opened at the start and kept for `--hold` seconds (0: no
  holder), querying a mart every second.

They read what the README tells BI to read: `--read copy` (default) the BI copy the service
publishes (recon.bi_copy, its path from /healthz), `--read warehouse` the warehouse file itself
(the design before the copy). While they read, the local Stripe API's sender delivers the
world's webhook events after the cut-off (at most `--max-events`): the first half as fast as it
can (a burst), the rest paced at `--rate` a second. Printed: reads and failed reads (with the
errors' kinds), the holder's queries, micro-batches and failed micro-batches (from the
service's log), the time a micro-batch spends building and publishing the copy, and the
latency from an event's first receipt to the first poll that could read it (in the copy: the
first poll of a copy whose recon_meta.publication names the event's micro-batch or a later one;
in the warehouse: the first successful poll after its micro-batch was built), p50 and p95
(target: 0 failed reads, 0 failed micro-batches, p95 at most 10 s).

Bounded: one world, at most `--max-events` events, the holder's `--hold`, a 600 s timeout on
the service catching up. Uses only what `recon serve` offers over HTTP and the inbox, so the
same script measures an older version (`--read warehouse`) run from its own checkout.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.settings import Settings, resolve  # noqa: E402
from demoworld.webhooks import WEBHOOK_EVENT_TYPES, deliver_events, world_events  # noqa: E402
from ingest.destinations import PIPELINES_DIR_NAME  # noqa: E402
from recon.demo.live import ServiceProcess, world_cutoff  # noqa: E402
from recon.demo.run import ensure_world, serving  # noqa: E402
from recon.pipeline import run_steps  # noqa: E402
from recon.serve import default_inbox_path  # noqa: E402

READER = Path(__file__).resolve().with_name("bi_reader.py")  # a BI tool: a light process of its own
WAREHOUSE_NAME = "bench_bi.duckdb"  # one name for the batch file and its copies: dbt's views name the file's stem
BATCH_LINE = re.compile(
    r"batch (\S+): .*\(apply ([\d.]+) s, build ([\d.]+) s(?:, BI copy ([\d.]+) s)?\)"
)


def _batch_warehouse(args: argparse.Namespace, world: Path) -> tuple[Path, int]:
    """The warehouse as the batch run left it at the cut-off, built once per world and cut-off."""
    folder = args.work_dir / f"batch-s{args.seed}-{args.scale}-d{args.live_days}"
    warehouse = folder / WAREHOUSE_NAME
    cutoff = world_cutoff(world, args.live_days)
    if not (folder / "done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        started = time.monotonic()
        with serving(world, resolve(warehouse=str(warehouse), target="duckdb", env={})) as settings:
            run_steps(settings, io.StringIO(), stripe_until=cutoff)
        (folder / "done").write_text("")
        print(
            f"batch run up to {args.live_days} days before the world's end: {time.monotonic() - started:.1f} s"
        )
    return warehouse, cutoff


def _fresh_copy(batch: Path, folder: Path) -> Settings:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for suffix in ("", ".wal"):
        original = batch.with_name(batch.name + suffix)
        if original.exists():
            shutil.copyfile(original, folder / (WAREHOUSE_NAME + suffix))
    return resolve(warehouse=str(folder / WAREHOUSE_NAME), target="duckdb", env={})


def _wait_readable(service: ServiceProcess, events: int, copy: bool) -> dict[str, Any]:
    """Until every event is in the marts and, reading the copy, in a published copy."""
    health = service.wait_built(events, timeout=600)
    return service.wait_published(timeout=600) if copy else health


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _kinds(errors: list[list[Any]]) -> dict[str, int]:
    """Errors counted by their message, quoted paths and process ids left out."""
    kinds: dict[str, int] = {}
    for _, message in errors:
        kind = re.sub(
            r"\(PID \d+\)", "(PID ...)", re.sub(r'"[^"]*"', '"..."', message.splitlines()[0])
        )[:120]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _first_read(reads: list[list[Any]], batch_id: int, built_at: int, copy: bool) -> int | None:
    """When a poll first read the event of `batch_id`: in the copy, the first copy naming that
    micro-batch or a later one; in the warehouse, the first successful poll after the build."""
    for at, seen in reads:
        if (seen is not None and seen >= batch_id) if copy else at >= built_at:
            return int(at)
    return None


def _reader(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(READER), *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":  # it has read once: it is running
        raise SystemExit(f"the BI reader {args[0]} did not start")
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--read",
        choices=("copy", "warehouse"),
        default="copy",
        help="where BI reads (default copy)",
    )
    parser.add_argument("--scale", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--live-days", type=int, default=60)
    parser.add_argument("--max-events", type=int, default=6_000)
    parser.add_argument(
        "--rate", type=float, default=100.0, help="deliveries/s after the burst (default 100)"
    )
    parser.add_argument(
        "--hold", type=float, default=60.0, help="seconds the holder keeps its connection (0: none)"
    )
    parser.add_argument("--work-dir", type=Path, default=ROOT / "warehouse" / "bench_bi")
    args = parser.parse_args()
    copy = args.read == "copy"

    world = args.work_dir / f"world-s{args.seed}-{args.scale}"
    ensure_world(world, seed=args.seed, scale=args.scale, out=io.StringIO())
    batch, cutoff = _batch_warehouse(args, world)
    settings = _fresh_copy(batch, args.work_dir / f"run-{args.read}")
    shutil.rmtree(settings.warehouse.parent / PIPELINES_DIR_NAME, ignore_errors=True)

    events = list(world_events(world, types=WEBHOOK_EVENT_TYPES, created_gte=cutoff))[
        : args.max_events
    ]
    ids = [str(json.loads(event)["id"]) for event in events]
    half = len(events) // 2
    secret = "whsec_" + secrets.token_hex(24)
    log_path = settings.warehouse.with_name("serve.log")
    stop_file = settings.warehouse.with_name("readers.stop")
    with ServiceProcess(settings, secret, log_path) as service:
        service.wait_ready()
        path = str(settings.warehouse)
        if copy:
            path = str(service.wait_published()["bi_copy"]["path"])
        print(f"BI reads {path} ({'the BI copy' if copy else 'the warehouse itself'})")
        started = time.monotonic()
        poller = _reader("poll", path, str(stop_file), *(["--publication"] if copy else []))
        holder = _reader("hold", path, str(args.hold)) if args.hold > 0 else None
        burst = deliver_events(
            events[:half], service.webhook_url, secret, concurrency=8, seed=args.seed
        )
        paced = deliver_events(
            events[half:],
            service.webhook_url,
            secret,
            concurrency=8,
            seed=args.seed,
            max_rate=args.rate,
        )
        health = _wait_readable(service, len(set(ids)), copy)
        caught_up = time.monotonic() - started
        held = (
            json.loads(holder.communicate(timeout=args.hold + 120)[0])
            if holder is not None
            else None
        )
        time.sleep(0.5)  # a poll after the last publication
        stop_file.touch()
        polled = json.loads(poller.communicate(timeout=120)[0])
    inbox = default_inbox_path(settings)
    connection = sqlite3.connect(f"file:{inbox}?mode=ro", uri=True)
    try:
        connection.execute("create temp table sent (event_id text primary key)")
        connection.executemany(
            "insert or ignore into sent values (?)", [(event_id,) for event_id in ids]
        )
        rows = connection.execute(
            "select events.received_at_ms, events.batch_id, events.built_at_ms from sent "
            "inner join events on events.event_id = sent.event_id"
        ).fetchall()
    finally:
        connection.close()

    reads, read_errors = polled["reads"], polled["errors"]
    readable: list[float] = []
    missing = 0
    for received, batch_id, built in rows:
        first = _first_read(reads, batch_id, built, copy)
        if first is None:
            missing += 1
        else:
            readable.append((first - received) / 1000)
    built_latency = [(built - received) / 1000 for received, _, built in rows]
    log = log_path.read_text(errors="replace")
    failed_batches = [line for line in log.splitlines() if " ERROR recon.serve.microbatch" in line]
    batch_lines = [match.groups() for match in BATCH_LINE.finditer(log)]
    builds = [float(build) for _, _, build, _ in batch_lines]
    publishes = [float(publish) for _, _, _, publish in batch_lines if publish is not None]

    print(
        f"events: {len(set(ids)):,} sent ({burst.acknowledged:,} acknowledged as a burst in {burst.seconds:.1f} s, "
        f"{paced.acknowledged:,} paced at {args.rate:,.0f}/s); all readable {caught_up:.1f} s after the readers started"
    )
    print(
        f"poller (new connection every 100 ms): {len(reads) + len(read_errors):,} reads, {len(read_errors):,} failed"
        + (f" {_kinds(read_errors)}" if read_errors else "")
    )
    if held is not None:
        print(
            f"holder (one connection, {args.hold:.0f} s): {held['queries'] + len(held['errors']):,} queries, "
            f"{len(held['errors']):,} failed; {len(held['answers'])} distinct answer(s)"
            + (f" {_kinds(held['errors'])}" if held["errors"] else "")
        )
    print(
        f"micro-batches: {len(batch_lines)} succeeded, {len(failed_batches)} failed"
        + (
            f"; first failure: {failed_batches[0].split(': ', 1)[-1][:300]}"
            if failed_batches
            else ""
        )
    )
    if builds:
        print(
            f"  build per micro-batch: median {statistics.median(builds):.2f} s, max {max(builds):.2f} s"
        )
    if publishes:
        print(
            f"  BI copy per micro-batch: median {statistics.median(publishes):.2f} s, "
            f"p95 {_percentile(publishes, 0.95):.2f} s, max {max(publishes):.2f} s"
        )
    print(
        f"event -> built in the warehouse: p50 {_percentile(built_latency, 0.5):.2f} s, "
        f"p95 {_percentile(built_latency, 0.95):.2f} s"
    )
    print(
        f"event -> readable {'in the BI copy' if copy else 'in the warehouse'} (first poll that read it): "
        f"p50 {_percentile(readable, 0.5):.2f} s, p95 {_percentile(readable, 0.95):.2f} s, "
        f"max {_percentile(readable, 1.0):.2f} s over {len(readable):,} events"
        + (f"; {missing} never read" if missing else "")
        + " (target: p95 <= 10 s)"
    )
    print(
        json.dumps(
            {
                "read": args.read,
                "events": len(set(ids)),
                "reads": len(reads) + len(read_errors),
                "failed_reads": len(read_errors),
                "held_queries_failed": len(held["errors"]) if held else None,
                "micro_batches": len(batch_lines),
                "failed_micro_batches": len(failed_batches),
                "readable_p50_s": _percentile(readable, 0.5),
                "readable_p95_s": _percentile(readable, 0.95),
                "publish_median_s": statistics.median(publishes) if publishes else None,
                "health_status": health["status"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
