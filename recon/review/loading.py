"""The review store into the warehouse: what `recon run` and `recon serve`'s micro-batches take
from `<warehouse>.review.sqlite`, the decisions in force (verified, then loaded into
`raw_decisions.review_*`) and the auto-accept policy in force (a dbt var).

Apart from recon.pipeline so that the micro-batcher loads decisions without importing the
checks and the classifier.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import UserError
from core.settings import Settings
from ingest.decisions.review import load_review_decisions, read_loaded_head, read_loaded_policy_head
from ingest.report import LoadReport
from recon.review.policy import policy_vars
from recon.review.store import ChainHead, DecisionStore, default_store_path, read_for_load

# The raw tables of the review's decisions, as dbt selects what they feed.
DECISIONS_SELECTORS = (
    "source:decisions.review_match_decisions+",
    "source:decisions.review_exception_resolutions+",
)


def loaded_head(settings: Settings, *, pipelines_dir: Path | None = None) -> ChainHead | None:
    """The chain head the warehouse's latest load of the review's decisions verified."""
    found = read_loaded_head(settings, pipelines_dir=pipelines_dir)
    return ChainHead(*found) if found else None


def loaded_policy_head(settings: Settings, *, pipelines_dir: Path | None = None) -> ChainHead | None:
    """The policy log's head the warehouse's latest load of the review's decisions verified."""
    found = read_loaded_policy_head(settings, pipelines_dir=pipelines_dir)
    return ChainHead(*found) if found else None


def ingest_review_decisions(settings: Settings, *, pipelines_dir: Path | None = None) -> LoadReport | None:
    """The review page's decisions in force (recon.review.store) into raw_decisions.review_*,
    once its hash chain is verified and found to hold the head the last load verified (so a log
    cut short stops the load); None when no review was ever recorded for this warehouse."""
    loaded = load_review(settings, pipelines_dir=pipelines_dir)
    return loaded[0] if loaded else None


def _store_found(settings: Settings, path: Path, pipelines_dir: Path | None) -> bool:
    """Whether the review store exists. A missing store the warehouse has loaded decisions or
    policy changes from stops the caller (UserError): read as "no review yet", its decisions
    would stay in force while its auto-accept policy fell back to the defaults without a word."""
    if path.exists():
        return True
    decisions = loaded_head(settings, pipelines_dir=pipelines_dir)
    policy = loaded_policy_head(settings, pipelines_dir=pipelines_dir)
    held = [(head.rows, what) for head, what in ((decisions, "decision(s)"), (policy, "policy change(s)"))
            if head is not None and head.rows > 0]
    if held:
        raise UserError(
            f"The review's store {path} is missing, but the warehouse's last load verified "
            + " and ".join(f"{rows} {what}" for rows, what in held)
            + " from it: nothing was applied; restore the file from a backup that holds them."
        )
    return False


def load_review(settings: Settings, *, pipelines_dir: Path | None = None) -> tuple[LoadReport, ChainHead] | None:
    """`ingest_review_decisions`, also returning the chain head the load verified and recorded."""
    store = default_store_path(settings)
    if not _store_found(settings, store, pipelines_dir):
        return None
    load = read_for_load(
        store, loaded_head(settings, pipelines_dir=pipelines_dir), loaded_policy_head(settings, pipelines_dir=pipelines_dir)
    )
    policy = (load.policy_head.rows, load.policy_head.last_hash) if load.policy_head else None
    report = load_review_decisions(
        settings, load.matches, load.resolutions, head=(load.head.rows, load.head.last_hash), policy_head=policy,
        pipelines_dir=pipelines_dir,
    )
    report.messages.append(f"The review's decision log: {load.check.rows} decision(s), the hash chain intact.")
    if load.policy_head is not None:
        report.messages.append(
            f"The review's policy log: {load.policy_head.rows} change(s), the hash chain intact; its head is "
            "recorded in raw_decisions.review_policy_heads."
        )
    if load.verified_against is not None:
        report.messages.append(
            f"It still holds the {load.verified_against.rows} decision(s) the last load verified; this load's "
            "head is recorded in raw_decisions.review_chain_heads."
        )
    return report, load.head


def policy_in_force(settings: Settings, *, pipelines_dir: Path | None = None) -> dict[str, Any]:
    """The auto-accept policy in force (the review store's policy log, recon.review.policy) as the
    dbt var the models read; an empty list (the project's defaults) when no review store exists.
    A log that is not intact, or that no longer holds the head the warehouse's last load recorded
    (raw_decisions.review_policy_heads), or a store gone that the warehouse loaded from, is not
    applied: UserError."""
    path = default_store_path(settings)
    if not _store_found(settings, path, pipelines_dir):
        return policy_vars([])
    recorded = loaded_policy_head(settings, pipelines_dir=pipelines_dir)
    with DecisionStore(path) as store:
        return policy_vars(store.policy_in_force(recorded))
