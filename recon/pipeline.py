"""The steps of a run, in order. Each step is a function; `recon run` and `recon demo` chain them."""

from __future__ import annotations

import time
from typing import TextIO

from ingest.report import LoadReport
from recon.errors import UserError
from recon.settings import Settings

# The steps of `recon run` (CONTRACT.md section 1) that this version cannot run yet: listed as
# such in the output, never shown as done.
NOT_BUILT_YET: tuple[str, ...] = ()


def ingest_stripe(settings: Settings, until: int | None = None) -> list[LoadReport]:
    """Stripe through its API into raw_stripe (objects created before `until`, unix seconds, if given)."""
    from ingest.stripe.load import load_stripe

    return [load_stripe(settings, now=until)]


def ingest_erp(settings: Settings) -> list[LoadReport]:
    """The ERP's books into raw_erp, and the team's decisions, when given, into raw_decisions."""
    from ingest.erp import load_decisions, load_erp

    if settings.erp_dir is None and settings.erp_sql is None:
        raise UserError("No ERP given: pass --erp-dir DIR or --erp-sql URL (or RECON_ERP_DIR / RECON_ERP_SQL).")
    reports = [load_erp(settings)]
    if settings.decisions_dir is not None:
        reports.append(load_decisions(settings))
    return reports


def build_models(settings: Settings) -> str:
    """`dbt build`: seeds, staging, matching, marts and every dbt test, each once, in this process.

    With the scored matching (not --rules-only), in two parts around the match scorer: what the
    scorer learns from (everything up to the candidate pairs and the rules' matches), then the
    scorer learns its weights from it (ml/match_scorer.py), then what its weights feed (the
    scored pairs, the resolution, the exceptions and the marts)."""
    from recon.dbt import describe, run_dbt, settings_env

    env = settings_env(settings)
    if settings.rules_only:
        return describe(run_dbt(["build"], env)) + "\nMatching: the analysts' rules alone (--rules-only)"
    from ml.match_scorer import DOWNSTREAM_SELECTOR, learn

    upstream = describe(run_dbt(["build", "--exclude", DOWNSTREAM_SELECTOR], env))
    scorer = learn(settings)
    downstream = describe(run_dbt(["build", "--select", DOWNSTREAM_SELECTOR], env))
    return "\n".join([upstream, scorer.render(), downstream])


def run_steps(settings: Settings, out: TextIO, *, stripe_until: int | None = None) -> None:
    """The pipeline in order, printing what each step did; the first failure stops it.

    Holds the warehouse's writer lock throughout (recon.locking): a webhook service's
    micro-batches wait for the run, and the run waits for a micro-batch under way.
    """
    from recon.locking import writer_lock

    def waiting(holder: str) -> None:
        out.write(f"Waiting for the warehouse: {holder} is writing to it.\n")
        out.flush()

    with writer_lock(settings, "recon run", on_wait=waiting):
        _run_steps(settings, out, stripe_until)


def _run_steps(settings: Settings, out: TextIO, stripe_until: int | None) -> None:
    for step in ("ingest stripe", "ingest erp"):
        started = time.monotonic()
        reports = ingest_stripe(settings, stripe_until) if step == "ingest stripe" else ingest_erp(settings)
        out.write(f"\n== {step}: done in {time.monotonic() - started:.1f} s\n")
        for report in reports:
            out.write(report.render() + "\n")
        out.flush()
    started = time.monotonic()
    line = build_models(settings)
    out.write(f"\n== dbt build: done in {time.monotonic() - started:.1f} s\n{line}\n")
    out.flush()
    from checks import run_checks
    from ml.classification import build_downstream, classify
    from recon.summary import summarize

    if settings.rules_only:
        out.write("\n== classify: not run (--rules-only): the rule-based types and dispositions stand\n")
    elif settings.target == "duckdb":
        started = time.monotonic()
        classified = classify(settings)
        downstream = build_downstream(settings)
        out.write(f"\n== classify: done in {time.monotonic() - started:.1f} s\n{classified.render()}\n{downstream}\n")
    else:
        # The classifier writes its table to DuckDB only so far: on another target the step is
        # not run and the rule-based types and dispositions stand.
        out.write(f"\n== classify: not built for target {settings.target} yet (not run): the rule-based values stand\n")
    out.flush()

    started = time.monotonic()
    checks = run_checks(settings)
    out.write(f"\n== balance checks: done in {time.monotonic() - started:.1f} s\n{checks.render()}\n")
    out.write("\n== summary\n" + summarize(settings).render() + "\n")
    if NOT_BUILT_YET:
        out.write("\nNot built yet (not run): " + "; ".join(NOT_BUILT_YET) + "\n")
    out.flush()
    # A failed check names the invariant, its rows and the amounts above; the exit status says it.
    checks.raise_for_status()
