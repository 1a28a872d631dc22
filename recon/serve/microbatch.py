"""Micro-batches: the inbox's pending events into the raw tables, then the models they affect.

One process of the service (`BatcherProcess`), the only one that touches the warehouse. Each batch takes the
warehouse's writer lock (recon.locking), applies every pending event (up to `max_events`) with
`ingest.stripe.webhooks.apply_events` (on DuckDB through the connection the batch holds),
marks them applied, rebuilds the models downstream of the raw tables that changed (dbt's
`source:stripe.<table>+`, with the manifest parsed once: their compiled SQL replayed on DuckDB,
recon.serve.replay, else `dbt run`), marks them built, publishes the marts to the BI copy on DuckDB (recon.bi_copy),
closes its DuckDB handles and lets the lock go. Events that arrive during a batch wait for the
next one, so a burst costs one rebuild, not one per event.

The review page's decisions (recon.review.store) reach the marts the same way: each loop reads
the store's chain head (its row count and last hash, a cheap read of the SQLite file); when it
differs from the head last loaded, the batch loads the decisions in force under the writer lock
(recon.review.loading: the chain verified, the head recorded) and rebuilds what the decisions'
raw tables feed. Every build passes the auto-accept policy in force, as `recon run` does.

Data tests, the classifier and the balance checks are not part of a micro-batch: they run with
`recon run` (DECISIONLOG.md, "Webhooks: one writer, micro-batches").
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from core.errors import ReconError
from core.settings import Settings
from recon.locking import writer_lock
from recon.review.store import ChainHead, default_store_path, store_head
from recon.serve.inbox import Inbox
from recon.serve.replay import (
    MICRO_BATCH_DBT_FLAGS,
    CompiledModels,
    contract_enforced,
    looks_at_warehouse,
    replay,
    selected_models,
    why_dbt,
)

log = logging.getLogger(__name__)

MAX_EVENTS = 20_000  # events per batch at most
KEEP_DAYS = 30  # events in the marts for longer leave the inbox (Stripe retries for 3 days)
PRUNE_EVERY_S = 3_600.0
RETRY_MAX_S = 30.0
WARMING_UP = "warming up: dbt builds the models the webhooks feed"


class BatchFailed(ReconError):
    """A micro-batch that failed, said in our words: what failed, why, and what happens to its
    events (the log line is this, never a library's guess at the cause)."""

    def __init__(self, what: str, cause: BaseException, after: str) -> None:
        super().__init__(f"{what}: {_cause(cause)}. {after}")


@dataclass
class BatchOutcome:
    batch_id: int | None
    events: int
    applied: str
    models: int
    apply_seconds: float
    build_seconds: float
    publish_seconds: float | None = None  # None: nothing published (PostgreSQL)
    review: str = ""  # what was loaded from the review's decisions, if anything
    replayed: bool = False  # the models were rebuilt from their compiled SQL (recon.serve.replay), not by dbt run

    def render(self) -> str:
        if self.batch_id is None and not self.models and self.publish_seconds is not None and not self.review:
            return f"BI copy published in {self.publish_seconds:.2f} s"
        published = "" if self.publish_seconds is None else f", BI copy {self.publish_seconds:.2f} s"
        review = f"; {self.review}" if self.review else ""
        how = " from their compiled SQL" if self.replayed else ""
        return (
            f"batch {self.batch_id}: {self.applied}{review}; {self.models} models rebuilt{how} "
            f"(apply {self.apply_seconds:.2f} s, build {self.build_seconds:.2f} s{published})"
        )


def fixed_views(manifest: Any) -> list[str]:
    """The project's views whose SQL is decided by the project alone: every view but those that
    look at the warehouse to write their SQL (`source_or_empty` reads a raw table only once it
    exists, so `stg_stripe__quarantine` changes when the first object is quarantined). Re-creating
    one of them gives the same view: a micro-batch leaves them out once it has built them."""
    return sorted(
        node.name
        for node in manifest.nodes.values()
        if node.resource_type == "model"
        and node.config.materialized == "view"
        and not looks_at_warehouse(manifest, node)
    )


def affected_selector(tables: Iterable[str], sources: Iterable[str]) -> list[str]:
    """dbt selectors for the models downstream of the raw Stripe tables that changed."""
    declared = set(sources)
    return [f"source:stripe.{table}+" for table in sorted(set(tables)) if table in declared]


class MicroBatcher:
    """Applies the inbox to the warehouse in micro-batches (`serve` loops; `run_once` is one)."""

    def __init__(
        self,
        settings: Settings,
        inbox: Inbox,
        *,
        max_events: int = MAX_EVENTS,
        linger: float = 0.05,
        pipelines_dir: Path | None = None,
        keep_days: int = KEEP_DAYS,
    ) -> None:
        self.settings = settings
        # Micro-batches replay the SQL dbt compiled (recon.serve.replay) on DuckDB; elsewhere `dbt run`.
        self._replays = settings.target == "duckdb"
        self.keep_days = keep_days
        self.inbox = inbox
        self.max_events = max_events
        self.linger = linger
        self.pipelines_dir = pipelines_dir
        self.batches = 0
        # The BI copy is published once at start (it may be older than the warehouse: a plain
        # `dbt build`, an earlier version), then after every build.
        self._copy_stale = settings.target == "duckdb"
        self._manifest: Any = None
        self._stripe_sources: set[str] = set()
        self._fixed_views: list[str] = []
        self._views_built = False
        self._dbt_built: set[str] = set()  # models dbt itself has built in this process
        self._compiled: CompiledModels | None = None  # made on the first replay (or the warm-up)
        self._why_dbt: dict[str, str | None] = {}  # why dbt must build a model (recon.serve.replay.why_dbt)
        self._review_store = default_store_path(settings)
        # The review store's chain head the warehouse holds (loaded, or found loaded); None: not
        # known yet (the first look compares with the head the warehouse recorded).
        self._review_head: ChainHead | None = None
        self._review_unbuilt = False  # decisions loaded, the models they feed not rebuilt yet

    def serve(
        self, wake: Any, stop: Any, still_wanted: Callable[[], bool] = lambda: True, gate: Any = None
    ) -> None:
        """Batch whenever `wake` is set (and at least every second) until `stop` is set or
        `still_wanted()` turns false; failures are retried with back-off, the events wait.

        `gate` (a lock shared with `BatcherProcess.stop`) is held for each batch and each prune,
        the only times the process writes: a stop waits for the batch under way and for nothing
        else (not the start-up's parse, not an idle second)."""
        gate = gate if gate is not None else contextlib.nullcontext()
        failures = 0
        self.inbox.set_status("parsing the dbt project")
        try:
            self._ensure_manifest()  # parsed once, before the first event waits on it
        except Exception as error:
            self.inbox.set_status("dbt could not parse the project", str(error))
            log.error("dbt could not parse the project: %s", error)
        else:
            with gate:
                if stop.is_set():
                    return
                self._warm_up()
        self.inbox.set_status("idle")
        pruned_at = 0.0
        while not stop.is_set() and still_wanted():
            if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                with gate:
                    if stop.is_set():
                        return
                    pruned = self.inbox.prune(self.keep_days)
                if pruned:
                    log.info("inbox: %d events built more than %d days ago removed", pruned, self.keep_days)
                pruned_at = time.monotonic()
            wake.wait(1.0)
            wake.clear()
            if stop.is_set():
                return
            time.sleep(self.linger)  # let a burst gather into one batch
            try:
                while True:
                    with gate:
                        if stop.is_set():
                            return
                        outcome = self.run_once()
                    if outcome is None:
                        break
                if failures:
                    self.inbox.set_status("idle")
                failures = 0
            except Exception as error:  # a batch that failed is retried; the events stay in the inbox
                failures += 1
                delay = min(RETRY_MAX_S, 0.5 * 2**failures)
                message = str(error) if isinstance(error, BatchFailed) else (
                    f"A micro-batch failed: {_cause(error)}. Its events stay in the inbox"
                )
                self.inbox.set_status(f"retrying in {delay:.0f} s", message)
                log.error("%s; retrying in %.0f s.", message, delay)
                stop.wait(delay)
                wake.set()

    def _warm_up(self) -> None:
        """Before the first batch: dbt builds the models whose contract is enforced among those
        the webhooks and the review's decisions feed (their tables, with the contract's types, are
        dbt's to create: a replay fills them), and compiles every model they feed, so that the
        first burst's batches replay their compiled SQL (recon.serve.replay) instead of waiting
        for `dbt run`. Nothing when replays are off or the warehouse has no marts yet; a warm-up
        that fails is said and left to the batches."""
        from core.warehouse import schema, tables_in  # start-up time (see _steps)
        from recon.bi_copy import PUBLISHED_SCHEMAS
        from recon.review.loading import policy_in_force

        if not self._replays or not self.settings.warehouse.exists():
            return
        self.inbox.set_status(WARMING_UP)
        started = time.monotonic()
        try:
            with writer_lock(self.settings, "recon serve (warm-up)", on_wait=_tell_waiting):
                held = _WarehouseHeld(self.settings)
                try:
                    held.open()
                    if not tables_in(self.settings, [schema(name) for name in PUBLISHED_SCHEMAS]):
                        return  # no marts yet: the first batch's `dbt run` builds them
                    policy = orjson.dumps(policy_in_force(self.settings, pipelines_dir=self.pipelines_dir)).decode()
                    fed = [self._manifest.nodes[node] for node in selected_models(self._manifest, self._every_selector())]
                    contracts = sorted(node.name for node in fed if contract_enforced(node))
                    models = self._dbt_run(contracts, policy) if contracts else 0
                    self._compiled_models().refresh(held.connection, policy)
                finally:
                    held.close()
        except Exception as error:
            log.warning("warm-up: %s; the first micro-batches run dbt", _cause(error))
            return
        self._copy_stale = True
        log.info(
            "warm-up: %d models whose contract is enforced built by dbt, and every model the webhooks feed "
            "compiled, in %.2f s", models, time.monotonic() - started,
        )

    # ------------------------------------------------------------------ one batch
    def run_once(self) -> BatchOutcome | None:
        """One micro-batch: None when there was nothing to do."""
        unbuilt = self.inbox.unbuilt_batches()
        pending = self.inbox.pending(self.max_events)
        review = self._review_changed()
        if not pending and not unbuilt and not self._copy_stale and review is None and not self._review_unbuilt:
            return None
        with writer_lock(self.settings, "recon serve (micro-batch)", on_wait=_tell_waiting):
            return self._batch(pending, unbuilt, review)

    def _batch(self, pending: list[Any], unbuilt: list[int], review_head: ChainHead | None = None) -> BatchOutcome:
        held = _WarehouseHeld(self.settings)
        try:
            return self._steps(pending, unbuilt, review_head, held)
        finally:
            held.close()  # before the writer lock goes: the next writer may be another process

    def _review_changed(self) -> ChainHead | None:
        """The review store's head when it differs from the one the warehouse was last seen to
        hold (new decisions, or a log changed behind the page), else None."""
        head = store_head(self._review_store)
        return head if head is not None and head != self._review_head else None

    def _load_review(self, head: ChainHead) -> str:
        """The review's decisions in force into the warehouse, unless it holds this head already
        (a `recon run` loaded it). Returns what was done ('' for nothing). A log that is not
        intact is said in the log and the status, and not retried until it changes: the
        webhooks' batches go on with the decisions last loaded."""
        from core.errors import UserError  # start-up time (see _steps)
        from recon.review.loading import load_review, loaded_head

        if loaded_head(self.settings, pipelines_dir=self.pipelines_dir) == head:
            self._review_head = head
            return ""
        try:
            # The store may have grown since `head` was read: what counts is the head loaded.
            loaded = load_review(self.settings, pipelines_dir=self.pipelines_dir)
        except UserError as error:
            self._review_head = head
            self.inbox.set_status("idle", f"The review's decisions were not loaded: {error}")
            log.error("The review's decisions were not loaded: %s", error)
            return ""
        except Exception as error:
            raise BatchFailed(
                f"The review's decisions ({head.rows} in the log) could not be loaded", error,
                "They stay in the review's store and are loaded again",
            ) from error
        if loaded is None:  # the store went away
            self._review_head = None
            return ""
        self._review_head = loaded[1]
        self._review_unbuilt = True
        return f"the review's decisions loaded ({loaded[1].rows} in the log)"

    def _steps(
        self, pending: list[Any], unbuilt: list[int], review_head: ChainHead | None, held: _WarehouseHeld
    ) -> BatchOutcome:
        # Start-up time and memory: the web process imports this module too, and only the
        # batcher process needs dlt and dbt (seconds and hundreds of MB to import).
        from ingest.stripe.settings import RESOURCES
        from ingest.stripe.webhooks import apply_events

        started = time.monotonic()
        batch_id: int | None = None
        applied = "nothing pending"
        tables: set[str] = set()
        if unbuilt:
            # A build cut short last time (failure or restart), or an apply that failed part way:
            # rebuild from every Stripe table.
            tables.update(RESOURCES)
        if pending:
            ids = [event.event_id for event in pending]
            events = [orjson.loads(event.payload) for event in pending]
            batch_id = self.inbox.start_batch(ids)
            try:
                held.open()
                report = apply_events(
                    self.settings, events, pipelines_dir=self.pipelines_dir, connection=held.connection
                )
            except Exception as error:
                failed = BatchFailed(
                    f"Micro-batch {batch_id} could not write its {_events(len(ids))} to the raw tables", error,
                    "They stay in the inbox and will be applied again",
                )
                self.inbox.record_error(batch_id, str(failed))
                raise failed from error
            applied = report.render()
            self.inbox.mark_applied(batch_id, ids, applied)
            tables.update(report.tables)
            unbuilt = [*unbuilt, batch_id]
        review = ""
        if review_head is not None:
            held.open()
            review = self._load_review(review_head)
        apply_seconds = time.monotonic() - started
        started = time.monotonic()
        models, replayed = 0, False
        if unbuilt or self._review_unbuilt:
            # One dbt run for both: what the changed Stripe tables and the decisions feed.
            try:
                held.open()
                models, replayed = self._build(tables if unbuilt else set(), held, review=self._review_unbuilt)
            except Exception as error:
                if unbuilt:
                    failed = BatchFailed(
                        f"Micro-batch {unbuilt[-1]} could not rebuild the models", error,
                        "Its events are in the raw tables and stay in the inbox until a rebuild from "
                        "every Stripe table succeeds",
                    )
                    for batch in unbuilt:
                        self.inbox.record_error(batch, str(failed))
                else:
                    failed = BatchFailed(
                        "The models the review's decisions feed could not be rebuilt", error,
                        "The decisions are in the raw tables; the rebuild is tried again",
                    )
                raise failed from error
            if unbuilt:
                self.inbox.mark_built(unbuilt)
            self._review_unbuilt = False
            self._copy_stale = self.settings.target == "duckdb"
        build_seconds = time.monotonic() - started
        started = time.monotonic()
        publish_seconds = None
        if self._copy_stale:
            self._publish()
            publish_seconds = time.monotonic() - started
        outcome = BatchOutcome(
            batch_id, len(pending), applied, models, apply_seconds, build_seconds, publish_seconds, review,
            replayed=replayed,
        )
        self.batches += 1
        log.info("%s", outcome.render())
        return outcome

    def _publish(self) -> None:
        """The marts to the BI copy (DuckDB; recon.bi_copy), holding the writer lock."""
        from recon.bi_copy import bi_copy_path, publish_bi_copy  # start-up time (see _steps)

        built = self.inbox.last_built_batch()
        try:
            publication = publish_bi_copy(
                self.settings, published_by="recon serve (micro-batch)", webhook_batch_id=built
            )
        except Exception as error:
            raise BatchFailed(
                f"The BI copy {bi_copy_path(self.settings)} could not be published", error,
                "The marts in the warehouse are current and BI keeps the previous copy until the "
                "publication is retried",
            ) from error
        self._copy_stale = False
        if publication is not None:
            self.inbox.set_published(publication.path, built, publication.seconds)

    def _ensure_manifest(self) -> None:
        from recon.dbt import parse_manifest, settings_env  # start-up time (see _steps)

        if self._manifest is None:
            self._manifest = parse_manifest(settings_env(self.settings))
            self._stripe_sources = {
                source.name for source in self._manifest.sources.values() if source.source_name == "stripe"
            }
            self._fixed_views = fixed_views(self._manifest)

    def _build(self, tables: set[str], held: _WarehouseHeld, *, review: bool = False) -> tuple[int, bool]:
        """`dbt run` of the models downstream of the Stripe `tables` that changed (and of the
        review's decisions with `review`), under the auto-accept policy in force; or their
        compiled SQL replayed (`_replay`). Returns how many models, and whether replayed."""
        # start-up time (see _steps)
        from recon.review.loading import DECISIONS_SELECTORS, policy_in_force

        self._ensure_manifest()
        selectors = affected_selector(tables, self._stripe_sources)
        if review:
            selectors += DECISIONS_SELECTORS
        if not selectors:
            return 0, False
        # The first build of the process creates every view it selects; later ones leave out the
        # views whose SQL cannot have changed since (the manifest is parsed once). DuckDB only:
        # its views find their tables by name when read, where PostgreSQL's follow a table dbt
        # renames away and drop with it.
        skip = self._views_built and self._fixed_views and self.settings.target == "duckdb"
        excluded = self._fixed_views if skip else []
        policy = orjson.dumps(policy_in_force(self.settings, pipelines_dir=self.pipelines_dir)).decode()
        replayed = self._replay(selectors, excluded, policy, held)
        if replayed is not None:
            self._views_built = True
            return replayed, True
        models = self._dbt_run([*selectors, *(["--exclude", *excluded] if excluded else [])], policy)
        self._views_built = True
        return models, False

    def _dbt_run(self, selection: list[str], policy: str) -> int:
        """`dbt run --select <selection>` under the policy; returns how many models it ran and
        remembers those it built (their tables are dbt's: a replay may fill them)."""
        from recon.dbt import run_dbt, settings_env  # start-up time (see _steps)

        result = run_dbt(
            ["run", "--select", *selection, "--vars", policy, *MICRO_BATCH_DBT_FLAGS],
            settings_env(self.settings),
            manifest=self._manifest,
        )
        results = getattr(result.result, "results", None) or []
        self._dbt_built.update(
            node_result.node.unique_id for node_result in results if str(node_result.status) == "success"
        )
        return len(results)

    def _replay(self, selectors: list[str], excluded: list[str], policy: str, held: _WarehouseHeld) -> int | None:
        """The selected models rebuilt from the SQL dbt compiled for them (recon.serve.replay), or
        None when dbt must run them: not DuckDB, a model whose contract is enforced that dbt has not
        built in this process yet (its table is dbt's to create), a model whose SQL only dbt can
        write, or a replay that failed (its error is logged; dbt then rebuilds the same models
        and says what is wrong, if anything is)."""
        if not self._replays or held.connection is None:
            return None
        selected = selected_models(self._manifest, selectors, excluded)
        if not selected or not {node for node in selected if contract_enforced(self._manifest.nodes[node])} <= self._dbt_built:
            return None
        for node in selected - self._why_dbt.keys():  # the manifest is parsed once: so are the reasons
            self._why_dbt[node] = why_dbt(self._manifest, self._manifest.nodes[node])
        blocked = sorted(reason for reason in map(self._why_dbt.get, selected) if reason)
        if blocked:
            log.info("micro-batch built by dbt run: %s", blocked[0])
            return None
        try:
            steps = self._compiled_models().steps(held.connection, selected, policy)
            count = replay(held.connection, steps)
        except Exception as error:
            log.warning(
                "The micro-batch's models could not be rebuilt from their compiled SQL (%s); dbt run rebuilds them",
                _cause(error),
            )
            self._compiled = None  # compiled again next time
            self._dbt_built.clear()  # the contracts' tables are dbt's again (the run below) before a replay
            return None
        return count

    def _every_selector(self) -> list[str]:
        """The selectors of every model a micro-batch may build: what every Stripe table feeds,
        and what the review's decisions feed."""
        from recon.review.loading import DECISIONS_SELECTORS  # start-up time (see _steps)

        return affected_selector(self._stripe_sources, self._stripe_sources) + list(DECISIONS_SELECTORS)

    def _compiled_models(self) -> CompiledModels:
        from recon.dbt import settings_env  # start-up time (see _steps)

        if self._compiled is None:
            self._compiled = CompiledModels(self._manifest, settings_env(self.settings), self._every_selector())
        return self._compiled


class _WarehouseHeld:
    """The DuckDB warehouse kept open for the whole of one micro-batch (nothing on PostgreSQL).

    The apply writes the batch's rows through it (`apply_events(connection=...)`); dlt, when it
    writes them instead, opens and closes the file several times, dbt once more, the publication
    once more; each open reads the catalog and each last close checkpoints the file. DuckDB keeps
    one database per file in a process while any connection to it is open, so with this one open
    every other open of the batch is a new connection to the same database: one open and one
    checkpoint a batch (about a second less per batch on a loaded 2-core machine, DECISIONLOG.md).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connection: Any = None

    def open(self) -> None:
        from core.warehouse import connect_duckdb  # start-up time (see MicroBatcher._steps)

        if self.connection is None and self.settings.target == "duckdb" and self.settings.warehouse.exists():
            self.connection = connect_duckdb(self.settings, read_only=False)

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            connection.close()


class BatcherProcess:
    """The micro-batcher in a process of its own, so that a rebuild never slows the requests
    (one core each on a 2-core machine). It dies with the service: on Linux the kernel kills it
    when its parent dies (PR_SET_PDEATHSIG), elsewhere it notices within a second."""

    def __init__(
        self, settings: Settings, inbox_path: Path, pipelines_dir: Path | None = None, keep_days: int = KEEP_DAYS
    ) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._wake = self._context.Event()
        self._stop = self._context.Event()
        self._gate = self._context.Lock()  # held by the batcher while it writes (MicroBatcher.serve)
        self._args = (settings, inbox_path, pipelines_dir, keep_days)
        self._process = self._new_process()
        self.restarts = 0

    def _new_process(self) -> Any:
        return self._context.Process(
            target=_batcher_main,
            args=(*self._args, self._wake, self._stop, self._gate, os.getpid(), logging.getLogger().level),
            name="recon-serve-batcher",
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()
        self._wake.set()  # whatever a previous run left pending goes first

    def notify(self) -> None:
        """New events are in the inbox (called by the committer after a commit)."""
        self._wake.set()

    def ensure_running(self) -> bool:
        """Start a new micro-batcher if the last one died (a crash, the OOM killer); True if it did.
        Its events are safe in the inbox: the new one applies them, a cut build is redone."""
        if self._stop.is_set() or self._process.is_alive():
            return False
        log.warning("the micro-batcher process ended (exit code %s): starting a new one", self._process.exitcode)
        self._gate = self._context.Lock()  # a process killed inside a batch never released the old one
        self._process = self._new_process()
        self.restarts += 1
        self.start()
        return True

    @property
    def alive(self) -> bool:
        return bool(self._process.is_alive())

    @property
    def pid(self) -> int | None:
        return self._process.pid  # type: ignore[no-any-return]

    def stop(self, timeout: float = 120.0) -> None:
        """Finish the batch under way, then stop. Outside a batch (starting up, parsing the dbt
        project, idle) the process writes nothing: it is ended at once, not waited for."""
        self._stop.set()
        self._wake.set()
        if not self._process.is_alive():
            return
        if self._gate.acquire(timeout=timeout):  # the batch under way, if any, has ended
            try:
                self._process.terminate()
                self._process.join(10)
            finally:
                self._gate.release()
        if self._process.is_alive():
            self._process.kill()
            self._process.join(10)


def _batcher_main(
    settings: Settings,
    inbox_path: Path,
    pipelines_dir: Path | None,
    keep_days: int,
    wake: Any,
    stop: Any,
    gate: Any,
    parent: int,
    level: int,
) -> None:
    _die_with_parent()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("recon.serve").setLevel(logging.INFO)
    for noisy in ("stripe", "urllib3", "dlt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if level > logging.DEBUG:
        # dlt sets its own logger's level from its configuration on every pipeline, and logs a
        # failed load job at ERROR with a traceback, calling a DuckDB file another process holds
        # a credentials or network problem. The micro-batch's own line (BatchFailed) says what
        # failed with the database's reason; `recon -vv serve` keeps dlt's lines.
        os.environ["RUNTIME__LOG_LEVEL"] = "CRITICAL"
    inbox = Inbox(inbox_path)
    try:
        MicroBatcher(settings, inbox, pipelines_dir=pipelines_dir, keep_days=keep_days).serve(
            wake, stop, still_wanted=lambda: os.getppid() == parent, gate=gate
        )
    finally:
        inbox.close()


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the getppid check in the loop does it
        pass


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


def _cause(error: BaseException) -> str:
    """The error's own words (its type when it has none)."""
    return str(error) or type(error).__name__


def _tell_waiting(holder: str) -> None:
    log.info("micro-batch waits for the warehouse: %s is writing to it", holder)
