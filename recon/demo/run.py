"""`recon demo`'s run: a realistic world, served on a local Stripe-compatible API, through the pipeline.

It prints only what really ran: the world's size, the API's address, what each step loaded.
Steps of the pipeline that are not built yet are listed as such, never shown as done.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from core.errors import ReconError
from core.settings import PROJECT_DIR, Settings
from demoworld.mess import NONE, MessSettings
from demoworld.stripe_api import StripeAPIServer
from demoworld.world import FORMAT_VERSION, WorldSpec, generate_world
from ingest.destinations import PIPELINES_DIR_NAME
from recon import pipeline
from recon.demo.live import deliver_live, world_cutoff
from recon.review.users import add_user, default_users_path
from recon.summary import summarize

log = logging.getLogger(__name__)

DEMO_API_KEY = "sk_test_recon_demo"  # the local fake's key: not a secret, it opens nothing real
DEMO_WAREHOUSE = PROJECT_DIR / "warehouse" / "demo.duckdb"
DEMO_MAX_RPS = 1_000.0



def default_world_dir(seed: int, scale: int, mess_label: str = "none") -> Path:
    suffix = "" if mess_label == "none" else f"-{mess_label}"
    return PROJECT_DIR / "worlds" / f"seed{seed}-scale{scale}{suffix}"


def ensure_world(
    world_dir: Path,
    *,
    seed: int,
    scale: int,
    out: TextIO,
    mess: MessSettings | None = None,
) -> dict[str, object]:
    """The world of (seed, scale, mess) in `world_dir`: reused when already there, else generated."""
    mess = mess or NONE
    wanted_mess = None if mess.is_none else mess.as_dict()
    manifest_path = world_dir / "manifest.json"
    if manifest_path.exists():
        manifest: dict[str, object] = json.loads(manifest_path.read_text())
        if (
            manifest.get("format") == FORMAT_VERSION
            and manifest.get("seed") == seed
            and manifest.get("scale") == scale
            and manifest.get("mess") == wanted_mess
        ):
            out.write(f"World: reusing {world_dir} (seed {seed}, scale {scale})\n")
            return manifest
    knobs = ", ".join(f"{k}={v:g}" for k, v in mess.active().items()) or "none"
    out.write(f"World: generating seed {seed}, scale {scale} into {world_dir} (mess: {knobs}) ...\n")
    out.flush()
    started = time.monotonic()
    staging = world_dir.with_name(world_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    generate_world(WorldSpec(seed=seed, scale=scale, mess=mess), staging)
    shutil.rmtree(world_dir, ignore_errors=True)
    staging.rename(world_dir)
    out.write(f"World: generated in {time.monotonic() - started:.1f} s\n")
    loaded: dict[str, object] = json.loads(manifest_path.read_text())
    return loaded


def _print_world(manifest: dict[str, object], out: TextIO) -> None:
    counts = manifest.get("counts") or {}
    assert isinstance(counts, dict)
    out.write(f"  period: {manifest.get('start')} to {manifest.get('end')}\n")
    for name, count in counts.items():
        out.write(f"  {name:<32}{count:>12,}\n")


@contextmanager
def serving(world: Path, settings: Settings, *, port: int = 0) -> Iterator[Settings]:
    """A world's Stripe part on the local Stripe-compatible API while the block runs, and
    `settings` pointed at it and at the world's ERP files and decisions."""
    with StripeAPIServer(world, port=port, api_keys=(DEMO_API_KEY,)) as server:
        yield replace(
            settings,
            stripe_api_base=server.url,
            stripe_api_key=DEMO_API_KEY,
            erp_dir=world / "erp",
            erp_sql=None,
            decisions_dir=world / "decisions",
            # the bank's statements, where the world has them (worlds written before issue 15 do not)
            bank_dir=world / "bank" if (world / "bank").is_dir() else None,
            # The local fake is not Stripe: unless told otherwise, read it faster than
            # Stripe's 25 requests a second for test keys.
            stripe_max_rps=settings.stripe_max_rps or DEMO_MAX_RPS,
        )


def run_demo(
    settings: Settings,
    *,
    scale: int,
    seed: int,
    world_dir: str | None,
    port: int,
    serve: bool,
    out: TextIO,
    fresh_warehouse: bool = True,
    live_days: int | None = None,
    mess: MessSettings | None = None,
    mess_label: str = "none",
) -> int:
    world = (
        Path(world_dir).resolve() if world_dir else default_world_dir(seed, scale, mess_label)
    )
    manifest = ensure_world(world, seed=seed, scale=scale, out=out, mess=mess)
    _print_world(manifest, out)

    if fresh_warehouse:
        _reset_warehouse(settings.warehouse)
    with serving(world, settings, port=port) as demo_settings:
        out.write(f"Stripe-compatible API: {demo_settings.stripe_api_base} (key {DEMO_API_KEY}, 127.0.0.1 only)\n")
        out.write(f"Warehouse: {settings.warehouse}\n")
        cutoff = None
        if live_days:
            cutoff = world_cutoff(world, live_days)
            out.write(
                f"Live mode: the batch run reads Stripe up to {_day(cutoff)}; the last {live_days} days "
                "then arrive as signed webhooks at `recon serve`\n"
            )
        out.flush()
        pipeline.run_steps(demo_settings, out, stripe_until=cutoff)
        if cutoff is not None:
            _run_live(demo_settings, world, cutoff, out)
        _print_review(settings, out)
        if serve:
            out.write(f"\nServing the world's Stripe API on {demo_settings.stripe_api_base}: Ctrl-C to stop.\n")
            out.flush()
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                out.write("stopped\n")
    return 0


DEMO_REVIEWER = "demo"


def _print_review(settings: Settings, out: TextIO) -> None:
    """A demo login for the review page, in a users file beside the demo's warehouse (a new
    password each demo, never in git), and how to open the page."""
    password = secrets.token_urlsafe(12)
    users = default_users_path(settings)
    add_user(users, DEMO_REVIEWER, "admin", password, "Demo Controller")
    out.write(
        "\n== review\n"
        f"Review page: run `recon review --warehouse {settings.warehouse}`, then open http://127.0.0.1:8001/\n"
        f"  demo login: user {DEMO_REVIEWER}, password {password} (admin; in {users}, this demo only)\n"
    )
    out.flush()


def _day(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _run_live(settings: Settings, world: Path, cutoff: int, out: TextIO) -> None:
    out.write("\n== live: recon serve, webhooks from the local Stripe API (5% duplicates, reordered)\n")
    out.flush()
    report = deliver_live(settings, world, cutoff, log_path=settings.warehouse.with_name("serve.log"))
    out.write(report.render() + "\n")
    out.write("\n== summary after the webhooks\n" + summarize(settings).render() + "\n")
    out.flush()
    if not report.delivery.complete or report.latency.missing:
        raise ReconError(
            f"live mode: {len(report.delivery.unacknowledged)} events never acknowledged, "
            f"{report.latency.missing} not in the marts (log: {settings.warehouse.with_name('serve.log')})"
        )


def _reset_warehouse(path: Path) -> None:
    """Only the demo's own warehouse file is ever reset, with dlt's state for it."""
    if path.resolve() != DEMO_WAREHOUSE.resolve():
        log.info("demo: loading into %s without resetting it", path)
        return
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)
    shutil.rmtree(path.parent / PIPELINES_DIR_NAME / path.stem, ignore_errors=True)
