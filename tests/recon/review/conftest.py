"""A messy demo world through the whole pipeline, once per session, for the review page's tests.

Messy books (demoworld's `messy` preset) give the queue what a controller meets: suggested pairs,
some of them wrong with the right counterpart among the candidates (the world's truth says which).
The review policy is tightened on this warehouse (dbt vars review_min_confidence) so that
exceptions require review too. Tests that change the warehouse copy it first.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import Settings, resolve
from recon.review.users import add_user

REVIEW_WORLD_SCALE = 300
REVIEW_WORLD_SEED = 11
PASSWORD = "correct horse battery"
CHROMIUM = Path("/usr/bin/chromium")


@dataclass(frozen=True)
class ReviewWorld:
    world: Path
    warehouse: Path  # as the run left it, with the tightened review policy: copy it before changing it

    def copy_to(self, folder: Path) -> Path:
        """The warehouse file and dlt's state for it, in `folder` (a run on the copy loads incrementally)."""
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / self.warehouse.name
        shutil.copy2(self.warehouse, target)
        pipelines = self.warehouse.parent / ".dlt_pipelines" / self.warehouse.stem
        if pipelines.exists():
            shutil.copytree(pipelines, folder / ".dlt_pipelines" / target.stem)
        return target


@pytest.fixture(scope="session")
def review_world(tmp_path_factory: pytest.TempPathFactory) -> ReviewWorld:
    from demoworld.mess import MESSY
    from recon.demo.run import run_demo
    from recon.pipeline import build_downstream

    root = tmp_path_factory.mktemp("review-world")
    world, warehouse = root / "world", root / "review.duckdb"
    settings = resolve(warehouse=str(warehouse), target="duckdb", env={})
    run_demo(
        settings, scale=REVIEW_WORLD_SCALE, seed=REVIEW_WORLD_SEED, world_dir=str(world), port=0,
        serve=False, out=io.StringIO(), fresh_warehouse=False, mess=MESSY, mess_label="messy",
    )
    build_downstream(settings, {"review_min_confidence": 0.97})
    return ReviewWorld(world, warehouse)


def users_file(folder: Path) -> Path:
    path = folder / "users.toml"
    add_user(path, "rita", "reviewer", PASSWORD, "Rita Reviewer")
    add_user(path, "ann", "approver", PASSWORD, "Ann Approver")
    add_user(path, "adam", "admin", PASSWORD, "Adam Admin")
    return path


def browser_required() -> bool:
    """In CI (or when asked) a missing browser fails the browser tests instead of skipping them."""
    return os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get("RECON_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium (installed by .ci/run); skipped without it, except in CI or with
    RECON_REQUIRE_BROWSER=1, where it fails."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: apt-get install chromium"
        if browser_required():
            pytest.fail(reason + " (required: CI or RECON_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningReview:
    url: str
    settings: Settings
    users: Path


@pytest.fixture
def review_server(review_world: ReviewWorld, tmp_path: Path) -> Iterator[RunningReview]:
    """`recon review` on a copy of the review world, as a process of its own."""
    warehouse = review_world.copy_to(tmp_path / "warehouse")
    users = users_file(tmp_path)
    port = free_port()
    log = (tmp_path / "review.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "recon"), "review", "--warehouse", str(warehouse),
         "--users", str(users), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise AssertionError((tmp_path / "review.log").read_text()) from None
                time.sleep(0.1)
        yield RunningReview(url, resolve(warehouse=str(warehouse), target="duckdb", env={}), users)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
