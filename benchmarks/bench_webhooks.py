"""Webhooks end to end on loopback: events accepted per second, event-to-mart latency, and a count
that nothing was lost or doubled.

    .venv/bin/python benchmarks/bench_webhooks.py [--scale 20000] [--seed 11] [--live-days 30]
        [--max-events 20000] [--duplicate-rate 0.05] [--reorder-window 50] [--concurrency 8]

A demo world is loaded by the batch run up to `--live-days` before its end; then `recon serve`
runs as its own process on 127.0.0.1 and the local Stripe API's sender delivers the world's
webhook events after the cut-off (at most `--max-events`), signed, with duplicates and
reordering: the first half as fast as the sender can (a burst: deliveries acknowledged per
second, target at least 500/s on 2 cores), the second half paced at `--rate` (500/s: the
latency of a steady stream). Printed per half: acceptance rate and event-to-mart latency p50
and p95 from the inbox's own times (target p95 at most 10 s); then the micro-batches and the
counts: events sent = events stored = events in raw_stripe.events, one
row per object in every raw table, every acknowledged delivery counted in the inbox.
Bounded: one world, at most `--max-events` events, a `--timeout` on catching up.
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--live-days", type=int, default=60)
    parser.add_argument("--max-events", type=int, default=20_000)
    parser.add_argument("--duplicate-rate", type=float, default=0.05)
    parser.add_argument("--reorder-window", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=500.0, help="deliveries/s of the paced half (default 500)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "warehouse" / "bench")
    args = parser.parse_args()

    import duckdb

    from core.settings import resolve
    from ingest.destinations import PIPELINES_DIR_NAME
    from ingest.stripe.settings import RESOURCES
    from recon.demo.live import world_cutoff
    from recon.demo.run import ensure_world, serving
    from recon.pipeline import run_steps
    from recon.serve import default_inbox_path

    world = args.work_dir / f"world-s{args.seed}-{args.scale}"
    ensure_world(world, seed=args.seed, scale=args.scale, out=sys.stdout)
    warehouse = args.work_dir / f"webhooks-s{args.seed}-{args.scale}.duckdb"
    for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal"), default_inbox_path(
        resolve(warehouse=str(warehouse), env={})
    )):
        stale.unlink(missing_ok=True)
    shutil.rmtree(warehouse.parent / PIPELINES_DIR_NAME / warehouse.stem, ignore_errors=True)

    cutoff = world_cutoff(world, args.live_days)
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    started = time.monotonic()
    with serving(world, settings) as batch_settings:
        run_steps(batch_settings, io.StringIO(), stripe_until=cutoff)
    print(f"batch run up to {args.live_days} days before the world's end: {time.monotonic() - started:.1f} s")

    from demoworld.webhooks import WEBHOOK_EVENT_TYPES, deliver_events, world_events
    from recon.demo.live import ServiceProcess, latencies

    events = list(world_events(world, types=WEBHOOK_EVENT_TYPES, created_gte=cutoff))[: args.max_events]
    half = len(events) // 2
    phases = {"burst": events[:half], "paced": events[half:]}
    ids = {name: [str(json.loads(event)["id"]) for event in batch] for name, batch in phases.items()}
    secret = "whsec_" + secrets.token_hex(24)
    deliveries = {}
    latency_of = {}
    with ServiceProcess(settings, secret, args.work_dir / "bench_webhooks_serve.log") as service:
        started = time.monotonic()
        service.wait_ready()
        print(f"recon serve ready (dbt project parsed) in {time.monotonic() - started:.1f} s after it answered")
        for name, batch in phases.items():
            deliveries[name] = deliver_events(
                batch, service.webhook_url, secret, duplicate_rate=args.duplicate_rate,
                reorder_window=args.reorder_window, concurrency=args.concurrency, seed=args.seed,
                max_rate=None if name == "burst" else args.rate,
            )
            health = service.wait_built(sum(len(set(ids[done])) for done in deliveries))
            latency = latency_of[name] = latencies(default_inbox_path(settings), ids[name])
            sent = deliveries[name]
            how = "as fast as the sender can" if name == "burst" else f"paced at {args.rate:,.0f}/s"
            print(f"\n{name} ({how}): {sent.summary()}")
            target = "(target >= 500/s)" if name == "burst" else "(the sender's pace)"
            print(
                f"  accepted: {sent.acknowledged:,} deliveries in {sent.seconds:.2f} s = "
                f"{sent.acknowledged / sent.seconds:,.0f} acknowledged deliveries/s {target}"
            )
            print(f"  {latency.render()} (target p95 <= 10 s)")
            if latency.missing:
                print(f"  {latency.missing} events not in the marts")
        batches = int((health.get("last_batch") or {}).get("batch_id") or 0)
        inbox = health["inbox"]
    print(f"\nmicro-batches: {batches}; batch log: {args.work_dir / 'bench_webhooks_serve.log'}")
    all_latency = latencies(default_inbox_path(settings), [event_id for batch in ids.values() for event_id in batch])
    distinct_sent = sum(sent.events for sent in deliveries.values())
    acknowledged = sum(sent.acknowledged for sent in deliveries.values())

    # Nothing lost, nothing doubled.
    sent_ids = [event_id for sent in deliveries.values() for event_id in sent.acked_at]
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        connection.execute("create temp table sent (id varchar)")
        connection.executemany("insert into sent values (?)", [(event_id,) for event_id in sent_ids])
        in_events = connection.execute(
            "select count(*), count(distinct events.id) from raw_stripe.events inner join sent on events.id = sent.id"
        ).fetchone()
        doubled = {}
        for table in [*RESOURCES, "balance_snapshots"]:
            key = "event_id" if table == "balance_snapshots" else "id"
            rows, distinct = connection.execute(f"select count(*), count(distinct {key}) from raw_stripe.{table}").fetchone()
            if rows != distinct:
                doubled[table] = rows - distinct
    finally:
        connection.close()
    assert in_events is not None
    complete = all(sent.complete for sent in deliveries.values())
    print(
        f"count: {distinct_sent:,} distinct events sent, {len(sent_ids):,} acknowledged, "
        f"{inbox['events']:,} in the inbox, {in_events[0]:,} rows of them in raw_stripe.events "
        f"({in_events[1]:,} distinct); {acknowledged:,} acknowledged deliveries, "
        f"{inbox['deliveries']:,} counted by the inbox; rows doubled in raw tables: {doubled or 'none'}"
    )
    ok = (
        complete and inbox["events"] == distinct_sent and in_events[0] == in_events[1] == distinct_sent
        and inbox["deliveries"] == acknowledged and not doubled and all_latency.missing == 0
    )
    print("nothing lost or doubled" if ok else "LOST OR DOUBLED: see the counts above")
    print(json.dumps({
        name: {
            "events": sent.events, "deliveries": sent.deliveries, "duplicates_sent": sent.duplicates_sent,
            "reordered": sent.reordered, "accepted_per_s": round(sent.acknowledged / sent.seconds, 1),
            "latency_p50_s": latency_of[name].percentile(0.5),
            "latency_p95_s": latency_of[name].percentile(0.95),
        }
        for name, sent in deliveries.items()
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
