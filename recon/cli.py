"""The `recon` command: the only place that catches errors, prints them for a person and exits.

Exit status: 0 all good; 1 the run found breaks or a check failed; 2 it could not run
(bad input, bad configuration, unreachable API).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from core.errors import ChecksFailedError, ReconError, SourceUnavailableError, UserError
from core.settings import Settings, resolve
from core.telemetry import quiet_telemetry
from recon import __version__
from recon.demo import add_mess_options, resolve_mess, stripe_api_main
from recon.locking import writer_lock

log = logging.getLogger("recon")

Handler = Callable[[argparse.Namespace, Settings], int]

# Commands that write to the warehouse (or must read it whole) hold its writer lock, so that they
# take turns with `recon serve`'s micro-batches; `run` and `demo` take it inside the pipeline.
WRITERS = frozenset({"ingest", "classify", "check"})


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (each also an environment variable; the option wins)")
    group.add_argument("--warehouse", metavar="PATH", help="DuckDB file (RECON_WAREHOUSE; default warehouse/recon.duckdb)")
    group.add_argument("--target", metavar="NAME", help="target in profiles.yml (RECON_TARGET; default duckdb)")
    group.add_argument("--erp-dir", metavar="DIR", help="directory of ERP CSV files (RECON_ERP_DIR)")
    group.add_argument("--erp-sql", metavar="URL", help="SQLAlchemy URL of an ERP database (RECON_ERP_SQL)")
    group.add_argument("--decisions-dir", metavar="DIR", help="the team's past decisions (RECON_DECISIONS_DIR)")
    group.add_argument(
        "--bank-dir", metavar="DIR", help="bank statement files: BAI2, camt.053 XML, CSV (RECON_BANK_DIR)"
    )
    group.add_argument(
        "--stripe-api-base",
        metavar="URL",
        help="a Stripe-compatible server, e.g. http://127.0.0.1:12111 (STRIPE_API_BASE)",
    )
    group.add_argument(
        "--stripe-max-rps",
        metavar="N",
        type=float,
        help="cap on Stripe requests per second (RECON_STRIPE_MAX_RPS; default Stripe's: 25 test, 100 live)",
    )
    group.add_argument(
        "--stripe-timeout",
        metavar="SECONDS",
        type=float,
        help="how long one Stripe request may wait for an answer before it is retried (RECON_STRIPE_TIMEOUT; default 20)",
    )
    group.add_argument(
        "--allow-missing-source",
        action="append",
        metavar="NAME",
        help="go on when this input cannot be read, with its last good load, e.g. erp/payments or erp "
        "(repeatable; RECON_ALLOW_MISSING_SOURCES, comma-separated); the summary lists it as stale",
    )
    group.add_argument(
        "--bi-copy",
        metavar="PATH",
        help="the marts' read-only copy BI reads on DuckDB, replaced after each build "
        "(RECON_BI_COPY; default <warehouse stem>.bi.duckdb beside the warehouse)",
    )
    group.add_argument(
        "--skip-dbt-tests",
        action="append",
        metavar="NAMES",
        help="dbt generic tests to leave out of every build, e.g. not_null,unique (repeatable; "
        "RECON_SKIP_DBT_TESTS, comma-separated); the output says which; the balance checks still run",
    )
    group.add_argument(
        "--rules-only",
        action="store_true",
        default=None,
        help="the analysts' SQL matching rules alone: no scored matching, no classifier (RECON_RULES_ONLY=1)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    return resolve(
        warehouse=getattr(args, "warehouse", None),
        target=getattr(args, "target", None),
        erp_dir=getattr(args, "erp_dir", None),
        erp_sql=getattr(args, "erp_sql", None),
        decisions_dir=getattr(args, "decisions_dir", None),
        stripe_api_base=getattr(args, "stripe_api_base", None),
        stripe_max_rps=getattr(args, "stripe_max_rps", None),
        stripe_timeout=getattr(args, "stripe_timeout", None),
        rules_only=getattr(args, "rules_only", None),
        allow_missing_sources=getattr(args, "allow_missing_source", None),
        bank_dir=getattr(args, "bank_dir", None),
        bi_copy=getattr(args, "bi_copy", None),
        skip_dbt_tests=getattr(args, "skip_dbt_tests", None),
    )


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    # Start-up time: each command imports its own machinery (dbt, dlt, scikit-learn, Great
    # Expectations: seconds), so `recon --help` and the other commands do not pay for it.
    from recon.demo.run import DEMO_WAREHOUSE, run_demo

    mess = resolve_mess(args.mess, args.knob)
    if not args.warehouse and not os.environ.get("RECON_WAREHOUSE"):
        # The demo keeps to its own file, so it never mixes with a warehouse of real books.
        settings = replace(settings, warehouse=DEMO_WAREHOUSE)
    return int(run_demo(
        settings,
        scale=args.scale,
        seed=args.seed,
        world_dir=args.world_dir,
        port=args.port,
        serve=args.serve,
        out=sys.stdout,
        live_days=args.live,
        mess=mess,
        mess_label=mess.label(args.mess),
    ))


def _cmd_stripe_api(args: argparse.Namespace, settings: Settings) -> int:
    raise AssertionError("`recon stripe-api` is forwarded to the server's own parser in main()")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recon",
        description="Reconcile Stripe against your ERP in a local warehouse (dbt + SQL).",
    )
    parser.add_argument("--version", action="version", version=f"recon {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="generate a demo Stripe account and ERP books, serve Stripe locally, run the pipeline",
        description=(
            "Generates a realistic, deterministic demo world (a Stripe account and the company's "
            "ERP books, with known anomalies), serves its Stripe part on a local Stripe-compatible "
            "API, runs the pipeline steps that exist against it and prints a summary."
        ),
    )
    demo.add_argument("--scale", type=int, default=20_000, help="number of successful charges (default 20000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed: the same seed gives the same world")
    demo.add_argument("--world-dir", metavar="DIR", help="where the world is written (default worlds/seed<S>-scale<N>)")
    demo.add_argument("--port", type=int, default=0, help="port of the local Stripe API (default: a free one)")
    demo.add_argument("--serve", action="store_true", help="keep the local Stripe API running until Ctrl-C")
    demo.add_argument(
        "--live", nargs="?", const=7, type=int, metavar="DAYS",
        help="live mode: the batch run stops DAYS (default 7) before the world's end; those days then "
        "arrive as signed webhooks (with duplicates, out of order) at a running `recon serve`",
    )
    add_mess_options(demo)
    _add_settings_options(demo)
    demo.set_defaults(handler=_cmd_demo)

    api = commands.add_parser(
        "stripe-api",
        help="serve a generated world on a local Stripe-compatible API (127.0.0.1 only)",
        add_help=False,  # its options, --help included, belong to the server's own parser
    )
    api.set_defaults(handler=_cmd_stripe_api)

    run = commands.add_parser(
        "run",
        help="the whole pipeline in order: ingest Stripe, ingest the ERP, dbt build, summary",
        description="Runs every step that exists, in order, and stops at the first failure.",
    )
    _add_settings_options(run)
    run.set_defaults(handler=_cmd_run)

    _add_ingest_commands(commands)

    check = commands.add_parser(
        "check",
        help="the balance invariants and the raw inputs' checks (Great Expectations), with an HTML report",
        description=(
            "Validates the raw inputs and the invariants of the marts with Great Expectations. "
            "Exit 0 all passed; 1 a check failed (named, with its rows and the amount at stake); "
            "2 a check could not run (no warehouse, marts not built)."
        ),
    )
    check.add_argument(
        "--suite", action="append", choices=("raw", "marts"), help="run only this suite (repeatable; default both)"
    )
    check.add_argument("--report-dir", metavar="DIR", help="where the Data Docs go (default RECON_REPORT_DIR, else reports/data_docs)")
    _add_settings_options(check)
    check.set_defaults(handler=_cmd_check)

    classify = commands.add_parser(
        "classify",
        help="train (or reuse) the exception classifier, write its table and rebuild the exceptions mart",
        description=(
            "Learns from the past resolutions (raw_decisions.exception_resolutions) to type the exceptions, "
            "writes ml.ml_exception_classifications and rebuilds the models downstream of it, so the "
            "exceptions mart takes the classifier's values. Retrains when the history changed or with "
            "--retrain. With --evaluate: a time-split evaluation against the rule-based values instead."
        ),
    )
    classify.add_argument("--retrain", action="store_true", help="train even when the history did not change")
    classify.add_argument(
        "--evaluate", action="store_true", help="time-split evaluation and HTML report (writes nothing to the warehouse)"
    )
    classify.add_argument("--world", metavar="DIR", help="with --evaluate: label the test periods by a demo world's truth/")
    classify.add_argument(
        "--test-periods", type=int, default=3, metavar="N", help="with --evaluate: test on the last N periods (default 3)"
    )
    classify.add_argument(
        "--report", metavar="PATH", help="with --evaluate: the HTML report (default reports/classifier_evaluation.html)"
    )
    _add_settings_options(classify)
    classify.set_defaults(handler=_cmd_classify)

    serve = commands.add_parser(
        "serve",
        help="the webhook service: Stripe events in, the marts kept current in micro-batches",
        description=(
            "Serves POST /webhooks/stripe (Stripe-signed events; the endpoint secret from "
            "STRIPE_WEBHOOK_SECRET) and GET /healthz. Each event is stored in the inbox before the "
            "answer, once however often it is delivered; micro-batches bring the events into the "
            "raw tables and rebuild the models they affect. Ctrl-C finishes the batch under way."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--inbox", metavar="PATH", help="the inbox file (RECON_WEBHOOK_INBOX; default <warehouse>.webhooks.sqlite)"
    )
    serve.add_argument(
        "--tolerance", type=int, default=300, metavar="SECONDS",
        help="oldest signature timestamp accepted (default 300, Stripe's)",
    )
    serve.add_argument(
        "--keep-days", type=int, default=30, metavar="DAYS",
        help="events in the marts for longer than this leave the inbox (default 30)",
    )
    _add_settings_options(serve)
    serve.set_defaults(handler=_cmd_serve)

    review = commands.add_parser(
        "review",
        help="the review page: confirm, reject and resolve what the pipeline could not decide alone",
        description=(
            "Serves the review page: sign in, a queue of suggested matches and exceptions that require "
            "review (most money at stake first), each item's evidence, and decisions recorded in an "
            "append-only, hash-chained store beside the warehouse that the next `recon run` honours. "
            "Users and roles (reviewer, approver, admin) come from a TOML file; --add-user writes one."
        ),
    )
    review.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    review.add_argument("--port", type=int, default=8001, help="port (default 8001)")
    review.add_argument(
        "--users", metavar="PATH",
        help="the users file (RECON_REVIEW_USERS; default <warehouse>.review-users.toml)",
    )
    review.add_argument(
        "--add-user", metavar="NAME",
        help="add (or replace) a user in the users file and exit; the password is asked for (or read from stdin)",
    )
    review.add_argument("--role", choices=("reviewer", "approver", "admin"), default="reviewer",
                        help="with --add-user: the user's role (default reviewer)")
    review.add_argument("--name", metavar="TEXT", help="with --add-user: the name shown on the page")
    _add_settings_options(review)
    review.set_defaults(handler=_cmd_review)

    evaluate = commands.add_parser(
        "evaluate",
        help="score the marts against a demo world's ground truth (precision, recall, anomalies)",
        description=(
            "Scores the marts against a demo world's truth/ with the practice scorer's conventions "
            "and prints a table, then a `score:` line."
        ),
    )
    evaluate.add_argument("--world", required=True, metavar="DIR", help="a demo world directory (with truth/)")
    evaluate.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    _add_settings_options(evaluate)
    evaluate.set_defaults(handler=_cmd_evaluate)
    return parser


def _cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    if args.evaluate:
        from ml.evaluation import (  # start-up time (see _cmd_demo)
            DEFAULT_REPORT,
            evaluate_classifier,
        )

        evaluation = evaluate_classifier(
            settings,
            truth_dir=Path(args.world) if args.world else None,
            test_periods=args.test_periods,
            report_path=Path(args.report) if args.report else DEFAULT_REPORT,
        )
        print(evaluation.render())
        return 0
    from ml.classification import classify  # start-up time (see _cmd_demo)
    from recon.bi_copy import publish_bi_copy  # start-up time
    from recon.pipeline import build_downstream  # start-up time
    from recon.review.loading import policy_in_force  # start-up time

    print(classify(settings, retrain=args.retrain).render())
    # The auto-accept policy in force, as `recon run` builds with it: without it the rebuilt
    # exceptions would take the project's defaults until the next run.
    print(build_downstream(settings, policy_in_force(settings)))
    published = publish_bi_copy(settings, published_by="recon classify")
    if published is not None:
        print(published.render())
    return 0


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from recon.serve import (  # start-up time
        ServeConfig,
        default_inbox_path,
        run_server,
        secret_from,
    )

    if settings.target not in ("duckdb", "postgres"):
        raise UserError(
            f"recon serve keeps a DuckDB or PostgreSQL warehouse current, not {settings.target!r}: on "
            "Spark every micro-batch would be a Spark job a model (minutes, not seconds) and the local "
            "session's catalog admits one process; run `recon run --target spark` on a schedule instead."
        )
    inbox = args.inbox or os.environ.get("RECON_WEBHOOK_INBOX")
    if args.verbose == 0:
        logging.getLogger("recon.serve").setLevel(logging.INFO)  # one line per micro-batch
    config = ServeConfig(
        settings=settings,
        secret=secret_from(os.environ),
        inbox_path=Path(inbox).expanduser().resolve() if inbox else default_inbox_path(settings),
        tolerance=args.tolerance,
        keep_days=args.keep_days,
    )
    print(
        f"recon serve: POST http://{args.host}:{args.port}/webhooks/stripe, GET /healthz; "
        f"inbox {config.inbox_path}; warehouse {settings.warehouse}",
        flush=True,
    )
    run_server(config, host=args.host, port=args.port)
    return 0


def _cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    from core.warehouse import describe_postgres  # start-up time
    from recon.review.server import review_config, run_server  # start-up time
    from recon.review.users import add_user, default_users_path, load_users  # start-up time

    if args.add_user:
        users = args.users or os.environ.get("RECON_REVIEW_USERS")
        path = Path(users).expanduser().resolve() if users else default_users_path(settings)
        if sys.stdin.isatty():
            password = getpass.getpass(f"Password for {args.add_user}: ")
            if getpass.getpass("Again: ") != password:
                raise UserError("The two passwords differ: nothing was written.")
        else:
            password = sys.stdin.readline().rstrip("\n")
        add_user(path, args.add_user, args.role, password, args.name)
        print(f"recon review: {args.add_user} ({args.role}) written to {path}")
        return 0
    if settings.target not in ("duckdb", "postgres"):  # said before the users file is asked for
        raise UserError(
            f"recon review reads a DuckDB or PostgreSQL warehouse, not {settings.target!r}: every page "
            "would be Spark jobs (seconds each), and a local Spark session's catalog admits one process."
        )
    config = review_config(settings, users=args.users)
    load_users(config.users_path)  # a missing or bad users file stops here, before the address is printed
    warehouse = describe_postgres() if settings.target == "postgres" else str(settings.warehouse)
    print(
        f"recon review: http://{args.host}:{args.port}/ (users {config.users_path}; decisions "
        f"{config.store_path}; warehouse {warehouse})",
        flush=True,
    )
    run_server(config, host=args.host, port=args.port)
    return 0


def _cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from recon.evaluate import evaluate  # start-up time (see _cmd_demo)

    evaluation = evaluate(settings, Path(args.world))
    print(evaluation.render())
    if args.json:
        Path(args.json).write_text(json.dumps(evaluation.as_dict(), indent=1) + "\n", encoding="utf-8")
    return 0


def _cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from checks import SUITES, run_checks  # start-up time (see _cmd_demo)

    report = run_checks(
        settings,
        report_dir=Path(args.report_dir) if args.report_dir else None,
        suites=tuple(args.suite) if args.suite else SUITES,
    )
    print(report.render())
    report.raise_for_status()
    return 0


def _add_ingest_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = commands.add_parser("ingest", help="load one source into the raw schemas (incremental)")
    sources = ingest.add_subparsers(dest="source", required=True, metavar="SOURCE")
    for name, help_text in (
        ("stripe", "Stripe objects through the API into raw_stripe"),
        ("erp", "the ERP's books (CSV files or a database) into raw_erp, with the team's decisions"),
        ("bank", "the bank's statement files (BAI2, camt.053, CSV) of --bank-dir into raw_bank"),
    ):
        sub = sources.add_parser(name, help=help_text)
        _add_settings_options(sub)
        sub.set_defaults(handler=_cmd_ingest)


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from recon.pipeline import run_steps  # start-up time (see _cmd_demo)

    run_steps(settings, sys.stdout)
    return 0


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    # start-up time (see _cmd_demo)
    from recon.ingesting import ingest_bank, ingest_erp, ingest_stripe

    if args.source == "bank":
        if settings.bank_dir is None:
            raise UserError("No bank statements given: pass --bank-dir DIR (or RECON_BANK_DIR).")
        reports = ingest_bank(settings)
    else:
        reports = ingest_stripe(settings) if args.source == "stripe" else ingest_erp(settings)
    for report in reports:
        print(report.render())
    return 0


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Libraries that would log request details at debug level stay at warning.
    for noisy in ("stripe", "urllib3", "dlt"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    quiet_telemetry()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["stripe-api"]:
        # The local API has its own parser (python -m demoworld.stripe_api): forward as is.
        return stripe_api_main(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    _configure_logging(args.verbose)
    handler: Handler = args.handler
    try:
        settings = _settings(args)
        if args.command in WRITERS:

            def waiting(holder: str) -> None:
                print(f"Waiting for the warehouse: {holder} is writing to it.", file=sys.stderr, flush=True)

            with writer_lock(settings, f"recon {args.command}", on_wait=waiting):
                return handler(args, settings)
        return handler(args, settings)
    except ChecksFailedError as error:
        print(f"recon: {error}", file=sys.stderr)
        return 1
    except (UserError, SourceUnavailableError) as error:
        print(f"recon: {error}", file=sys.stderr)
        return 2
    except ReconError as error:
        print(f"recon: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recon: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
