"""The steps of a run, in order. Each step is a function; `recon run` and `recon demo` chain them."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, TextIO

from checks import run_checks
from core.settings import Settings
from core.spark import lake_dir, session
from core.warehouse import schema as schema_name
from ingest.lake import register_in_spark
from ml import match_scorer
from ml.classification import DOWNSTREAM_SELECTOR, classify
from recon.bi_copy import publish_bi_copy
from recon.dbt import describe, run_dbt, settings_env
from recon.ingesting import ingest_bank, ingest_erp, ingest_stripe
from recon.locking import writer_lock
from recon.review.loading import policy_in_force
from recon.review.policy import VAR, policy_vars
from recon.summary import summarize

# The steps of `recon run` (docs/contract.md section 1) that this version cannot run yet: listed as
# such in the output, never shown as done.
NOT_BUILT_YET: tuple[str, ...] = ()
# What the spark target cannot run yet (DECISIONLOG.md, "The Spark target"): said, never shown as done.
NOT_BUILT_ON_SPARK: tuple[str, ...] = ()
# dbt's unit tests are left out of the builds on Spark: their fixtures are CTEs, which Spark plans
# anew at every reference, and the sum search's ran the driver out of memory (DECISIONLOG.md, "What
# runs on Spark"). They run on DuckDB and PostgreSQL; tests/recon/test_spark.py compares the Spark
# models' rows with DuckDB's instead.
NO_UNIT_TESTS: tuple[str, ...] = ("--exclude-resource-type", "unit_test")


def _vars_args(dbt_vars: Mapping[str, Any] | None) -> list[str]:
    # No policy rule is the project's own default (dbt_project.yml's empty auto_accept_policy):
    # passed anyway, it would change nothing but dbt's parse key (the command line's vars are
    # hashed into it), and every later dbt without them would parse the project in full again.
    if not dbt_vars or dict(dbt_vars) == policy_vars([]):
        return []
    return ["--vars", json.dumps(dict(dbt_vars))]


def _skip_args(settings: Settings) -> list[str]:
    """dbt's `--exclude test_name:<name>` for each generic test the settings leave out."""
    return ["--exclude", *(f"test_name:{name}" for name in sorted(settings.skip_dbt_tests))] if settings.skip_dbt_tests else []


def register_lake(settings: Settings) -> list[str]:
    """On the spark target, the lake's raw tables as tables of Spark's catalog (ingest.lake),
    where dbt's sources read them; nothing on the databases, where dlt wrote the tables."""
    if settings.target != "spark":
        return []
    return register_in_spark(session(settings), lake_dir(settings), schema_prefix=schema_name(""))


def build_models(settings: Settings, dbt_vars: Mapping[str, Any] | None = None) -> str:
    """`dbt build`: seeds, staging, matching, marts and every dbt test, each once, in this process.

    With the scored matching (not --rules-only), in two parts around the match scorer: what the
    scorer learns from (everything up to the candidate pairs and the rules' matches), then the
    scorer learns its weights from it (ml/match_scorer.py), then what its weights feed (the
    scored pairs, the resolution, the exceptions and the marts)."""
    env = settings_env(settings)
    extra = [*_vars_args(dbt_vars), *_skip_args(settings)]
    if settings.target == "spark":
        extra = [*extra, *NO_UNIT_TESTS]
    register_lake(settings)
    if settings.rules_only:
        return describe(run_dbt(["build", *extra], env)) + "\nMatching: the analysts' rules alone (--rules-only)"
    upstream = describe(run_dbt(["build", "--exclude", match_scorer.DOWNSTREAM_SELECTOR, *extra], env))
    scorer = match_scorer.learn(settings)
    downstream = describe(run_dbt(["build", "--select", match_scorer.DOWNSTREAM_SELECTOR, *extra], env))
    return "\n".join([upstream, scorer.render(), downstream])


def build_downstream(settings: Settings, dbt_vars: Mapping[str, Any] | None = None) -> str:
    """`dbt build` of the models downstream of the classifications (the exceptions mart and
    what reads it), so they take the classifier's values. Call after `classify`. `dbt_vars`
    overrides dbt vars for this build (e.g. the review policy). On Spark without dbt's unit tests,
    as `build_models`."""
    args = ["build", "--select", DOWNSTREAM_SELECTOR, *_vars_args(dbt_vars), *_skip_args(settings)]
    if settings.target == "spark":
        args += NO_UNIT_TESTS
    return describe(run_dbt(args, settings_env(settings)))


def run_steps(settings: Settings, out: TextIO, *, stripe_until: int | None = None) -> None:
    """The pipeline in order, printing what each step did; the first failure stops it.

    Holds the warehouse's writer lock throughout (recon.locking): a webhook service's
    micro-batches wait for the run, and the run waits for a micro-batch under way. Once the
    marts are built, they are published to the BI copy on DuckDB (recon.bi_copy).
    """

    def waiting(holder: str) -> None:
        out.write(f"Waiting for the warehouse: {holder} is writing to it.\n")
        out.flush()

    with writer_lock(settings, "recon run", on_wait=waiting):
        _run_steps(settings, out, stripe_until)


def _run_steps(settings: Settings, out: TextIO, stripe_until: int | None) -> None:
    # The ERP and the bank first: their inputs are checked before anything loads, so a broken
    # file stops the run in seconds, not after the Stripe ingest.
    steps = ("ingest erp", "ingest bank", "ingest stripe") if settings.bank_dir else ("ingest erp", "ingest stripe")
    for step in steps:
        started = time.monotonic()
        if step == "ingest stripe":
            reports = ingest_stripe(settings, stripe_until)
        elif step == "ingest bank":
            reports = ingest_bank(settings)
        else:
            reports = ingest_erp(settings)
        out.write(f"\n== {step}: done in {time.monotonic() - started:.1f} s\n")
        for report in reports:
            out.write(report.render() + "\n")
        out.flush()
    started = time.monotonic()
    # The auto-accept policy in force decides every build of the run (recon.review.policy).
    policy = policy_in_force(settings)
    line = build_models(settings, policy)
    rules = len(policy[VAR])
    out.write(f"\n== dbt build: done in {time.monotonic() - started:.1f} s\n{line}\n"
              f"Auto-accept policy: {rules} rule(s) of the review's policy log, the defaults elsewhere\n")
    if settings.skip_dbt_tests:
        out.write("dbt tests left out on purpose (--skip-dbt-tests): "
                  + ", ".join(sorted(settings.skip_dbt_tests)) + "; the other data tests ran, and the balance checks run as always\n")
    out.flush()
    if NOT_BUILT_ON_SPARK and settings.target == "spark":
        out.write("\nNot built on Spark yet (not run): " + "; ".join(NOT_BUILT_ON_SPARK) + "\n")
        out.flush()
        return
    if settings.rules_only:
        out.write("\n== classify: not run (--rules-only): the rule-based types and dispositions stand\n")
    else:
        started = time.monotonic()
        classified = classify(settings)
        downstream = build_downstream(settings, policy)
        out.write(f"\n== classify: done in {time.monotonic() - started:.1f} s\n{classified.render()}\n{downstream}\n")
    out.flush()
    # The marts as built, for BI, before the checks: a failed check is news BI should see too.
    # The BI copy is a DuckDB file of DuckDB's marts: on PostgreSQL and Spark, BI reads the
    # warehouse itself (README, "BI").
    published = publish_bi_copy(settings, published_by="recon run")
    if published is not None:
        out.write(f"\n== {published.render()}\n")
    elif settings.target == "spark":
        out.write("\n== BI copy: not made on Spark (a DuckDB copy of DuckDB's marts): BI reads Spark's marts\n")
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
