"""The loading steps of `recon run` and `recon ingest`: each source into its raw schema.

Apart from recon.pipeline so that `recon ingest` imports only the ingestion (dlt, the stripe
library, the parsers), not dbt, scikit-learn or Great Expectations (seconds of start-up).
"""

from __future__ import annotations

from core.errors import UserError
from core.settings import Settings
from ingest.bank import load_bank
from ingest.decisions import load_decisions
from ingest.erp import load_erp
from ingest.report import LoadReport
from ingest.stripe.load import load_stripe
from recon.review.loading import ingest_review_decisions


def ingest_stripe(settings: Settings, until: int | None = None) -> list[LoadReport]:
    """Stripe through its API into raw_stripe (objects created before `until`, unix seconds, if given)."""
    return [load_stripe(settings, now=until)]


def ingest_erp(settings: Settings) -> list[LoadReport]:
    """The ERP's books into raw_erp, and the team's decisions, when given, into raw_decisions:
    the CSV files of --decisions-dir and the review page's store beside the warehouse."""
    if settings.erp_dir is None and settings.erp_sql is None:
        raise UserError("No ERP given: pass --erp-dir DIR or --erp-sql URL (or RECON_ERP_DIR / RECON_ERP_SQL).")
    reports = [load_erp(settings)]
    if settings.decisions_dir is not None:
        reports.append(load_decisions(settings))
    review = ingest_review_decisions(settings)
    if review is not None:
        reports.append(review)
    return reports


def ingest_bank(settings: Settings) -> list[LoadReport]:
    """The bank's statement files, when --bank-dir is given, into raw_bank; nothing otherwise
    (the bank models then find no statements and change nothing)."""
    if settings.bank_dir is None:
        return []
    return [load_bank(settings)]
