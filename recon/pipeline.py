"""The steps of a run, in order. Each step is a function; `recon run` and `recon demo` chain them."""

from __future__ import annotations

from ingest.report import LoadReport
from recon.errors import UserError
from recon.settings import Settings


def ingest_stripe(settings: Settings) -> list[LoadReport]:
    """Stripe through its API into raw_stripe."""
    from ingest.stripe.load import load_stripe

    return [load_stripe(settings)]


def ingest_erp(settings: Settings) -> list[LoadReport]:
    """The ERP's books into raw_erp, and the team's decisions, when given, into raw_decisions."""
    from ingest.erp import load_decisions, load_erp

    if settings.erp_dir is None and settings.erp_sql is None:
        raise UserError("No ERP given: pass --erp-dir DIR or --erp-sql URL (or RECON_ERP_DIR / RECON_ERP_SQL).")
    reports = [load_erp(settings)]
    if settings.decisions_dir is not None:
        reports.append(load_decisions(settings))
    return reports
