"""Throughput of the local Stripe-compatible API through the real `stripe` library.

    .venv/bin/python benchmarks/bench_stripe_api.py [--world DIR] [--objects N]

Without --world it makes a world of about N objects in a temporary directory with the demo
world's generator (demoworld/world.py). Prints the index build time, then objects/s over the charges at limit=100 for:
the typed `auto_paging_iter`, `raw_request` pages (the library parses the JSON body), and
plain HTTP (requests + orjson, no stripe library) as the server's own ceiling.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import requests
import stripe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demoworld.stripe_api import DEFAULT_API_KEY, StripeAPIServer  # noqa: E402
from demoworld.world import WorldSpec, generate_world  # noqa: E402

API_VERSION = "2025-02-24.acacia"


def make_world(target: Path, objects: int, seed: int) -> None:
    # about six Stripe objects a sale (charge, intent, transaction, events, ...)
    generate_world(WorldSpec(seed=seed, scale=max(1, objects // 6)), target)


def timed(label: str, run: Callable[[], int]) -> None:
    started = time.perf_counter()
    n = run()
    seconds = time.perf_counter() - started
    print(f"{label:<46} {n:>9,} objects in {seconds:7.2f} s = {n / seconds:>9,.0f} objects/s")


def typed_auto_paging(client: stripe.StripeClient, cap: int) -> int:
    n = 0
    for _ in client.v1.charges.list(params={"limit": 100}).auto_paging_iter():
        n += 1
        if n >= cap:
            break
    return n


def raw_request_pages(client: stripe.StripeClient, cap: int) -> int:
    n = 0
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = client.raw_request("get", "/v1/charges", **params).data  # json-parsed body
        data = page["data"]
        n += len(data)
        if not page["has_more"] or n >= cap:
            return n
        params["starting_after"] = data[-1]["id"]


def plain_http_pages(url: str, cap: int) -> int:
    n = 0
    params: dict[str, Any] = {"limit": 100}
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {DEFAULT_API_KEY}"
        while True:
            response = session.get(f"{url}/v1/charges", params=params, timeout=30)
            response.raise_for_status()
            page = orjson.loads(response.content)
            data = page["data"]
            n += len(data)
            if not page["has_more"] or n >= cap:
                return n
            params["starting_after"] = data[-1]["id"]


def deep_cursor_pages(server: StripeAPIServer, client: stripe.StripeClient) -> None:
    """Latency of pages that start anywhere in the list (cursor lookups stay index seeks)."""
    with server._store.connection() as con:
        cursors = [
            row[0] for row in con.execute("select id from charges order by random() limit 200")
        ]
    started = time.perf_counter()
    for cursor in cursors:
        client.raw_request("get", "/v1/charges", limit=100, starting_after=cursor)
    ms = (time.perf_counter() - started) / len(cursors) * 1000
    print(
        f"{'raw_request page at a random cursor':<46} {ms:7.2f} ms a page (mean of {len(cursors)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="serve this world instead of making one")
    parser.add_argument("--objects", type=int, default=250_000, help="size of a made world")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--page-objects", type=int, default=None, help="stop each paging run after N charges"
    )
    parser.add_argument("--keep", action="store_true", help="keep the made world (prints where)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("stripe").setLevel(logging.WARNING)  # it logs every request at INFO

    tmp = None
    world = args.world
    if world is None:
        tmp = tempfile.mkdtemp(prefix="bench_world_")
        world = Path(tmp)
        started = time.perf_counter()
        make_world(world, args.objects, args.seed)
        print(f"made a world in {time.perf_counter() - started:.1f} s at {world}")
    jsonl_bytes = sum(f.stat().st_size for f in (world / "stripe").glob("*.jsonl"))
    with StripeAPIServer(world, rebuild=True) as server:
        with server._store.connection() as con:
            counts = {
                r: con.execute(f"select count(*) from {r}").fetchone()[0]
                for r in ("charges", "balance_transactions", "events")
            }
            total = sum(
                con.execute(f"select count(*) from {r}").fetchone()[0]
                for r in (
                    "customers",
                    "payment_intents",
                    "charges",
                    "refunds",
                    "disputes",
                    "invoices",
                    "balance_transactions",
                    "payouts",
                    "events",
                )
            )
        build = server.index_build_seconds or 0.0
        print(
            f"index build: {total:,} objects ({jsonl_bytes / 1e6:,.0f} MB of jsonl) in {build:.1f} s"
            f" = {total / build:,.0f} objects/s; {counts}"
        )
        client = stripe.StripeClient(
            DEFAULT_API_KEY,
            base_addresses={"api": server.url},
            stripe_version=API_VERSION,
            max_network_retries=2,
        )
        cap = args.page_objects or counts["charges"]
        timed("typed auto_paging_iter, charges, limit=100", lambda: typed_auto_paging(client, cap))
        timed(
            "raw_request pages + json, charges, limit=100", lambda: raw_request_pages(client, cap)
        )
        timed("plain HTTP + orjson (server ceiling)", lambda: plain_http_pages(server.url, cap))
        deep_cursor_pages(server, client)
        stats = server.stats
        print(f"server: {stats.total:,} requests, statuses {stats.by_status}")
    if tmp is not None and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
