"""Balance checks: the invariants of docs/contract.md section 6 and the raw inputs' checks, run with
Great Expectations where the data lives (the DuckDB file or the PostgreSQL target).

    from checks import run_checks
    report = run_checks(settings)          # suites=("raw", "marts"), report_dir=reports/data_docs
    print(report.render())
    report.raise_for_status()              # ChecksFailedError (exit 1) / UserError (exit 2)
"""

from checks.invariants import INVARIANTS, SUITES, Invariant
from checks.report import CheckReport, Failure, Note, NotRun, Violation
from checks.validate import DEFAULT_REPORT_DIR, run_checks

__all__ = [
    "DEFAULT_REPORT_DIR",
    "INVARIANTS",
    "SUITES",
    "CheckReport",
    "Failure",
    "Invariant",
    "NotRun",
    "Note",
    "Violation",
    "run_checks",
]
