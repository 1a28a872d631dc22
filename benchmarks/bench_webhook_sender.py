"""Throughput of the webhook sender (demoworld/webhooks.py) against a trivial local receiver.

    .venv/bin/python benchmarks/bench_webhook_sender.py [--world DIR] [--events 5000]
        [--concurrency 1 4 8]

The receiver is a `ThreadingHTTPServer` answering 200 `{}` at once, in a process of its own so
it does not share the sender's GIL. Without --world a world is generated in a temporary
directory (about 1.4 webhook events a sale). Prints deliveries/s per concurrency; each run
sends the same N signed events once (no duplicates, no reordering, no rate cap).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demoworld.webhooks import WEBHOOK_EVENT_TYPES, deliver_events, world_events  # noqa: E402
from demoworld.world import WorldSpec, generate_world  # noqa: E402


class _Ack(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def _receive(port: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ack)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = args.world
        if world is None:
            world = Path(tmp) / "world"
            generate_world(WorldSpec(seed=1, scale=max(100, args.events), months=2), world)
        events = list(world_events(world, types=WEBHOOK_EVENT_TYPES))[: args.events]
        port = multiprocessing.Value("i", 0)
        receiver = multiprocessing.Process(target=_receive, args=(port,), daemon=True)
        receiver.start()
        while port.value == 0:
            receiver.join(0.01)
        url = f"http://127.0.0.1:{port.value}/webhooks/stripe"
        try:
            for concurrency in args.concurrency:
                report = deliver_events(events, url, "whsec_bench", concurrency=concurrency)
                assert report.complete, report.summary()
                print(
                    f"concurrency {concurrency}: {report.deliveries:,} deliveries in "
                    f"{report.seconds:.2f} s = {report.rate:,.0f}/s"
                )
        finally:
            receiver.terminate()
            receiver.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
