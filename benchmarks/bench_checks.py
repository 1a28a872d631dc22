"""All the checks (raw and marts suites, Data Docs included) on one warehouse, timed from a cold
start: Great Expectations' import is part of the figure, as it is of every `recon check`.

    .venv/bin/python benchmarks/bench_checks.py --warehouse warehouse/demo.duckdb
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True, help="a DuckDB warehouse with raw tables (and marts)")
    parser.add_argument("--target", default="duckdb", help="duckdb (default) or postgres (RECON_PG_*)")
    parser.add_argument("--report-dir", help="where the Data Docs go (default: a temporary folder)")
    args = parser.parse_args(argv)

    import great_expectations  # noqa: F401  # timed on purpose: every run pays it

    import recon  # noqa: F401  # first: it turns GX's analytics off before GX is imported
    from checks import run_checks
    from core.settings import resolve

    imported = time.perf_counter()
    settings = resolve(warehouse=args.warehouse, target=args.target)
    with tempfile.TemporaryDirectory() as scratch:
        report = run_checks(settings, report_dir=Path(args.report_dir or scratch))
        done = time.perf_counter()
        checked = len(report.passed_checks) + len(report.failures)
        print(report.render().splitlines()[0])
        print(
            f"checks: {checked} ran, {len(report.failures)} failed, {len(report.not_run)} could not run; "
            f"import {imported - STARTED:.1f} s, checks {done - imported:.1f} s, "
            f"total {done - STARTED:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
