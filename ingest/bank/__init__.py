"""dlt source of bank statements: a folder of BAI2, camt.053 and CSV files -> `raw_bank`.

Every statement file of `--bank-dir` (RECON_BANK_DIR) is parsed first (ingest/bank/parsers.py):
one that cannot be read at all (not found, empty, not UTF-8, not the format its extension says)
stops the load with one sentence naming it, unless the run allows it to be missing
(`--allow-missing-source bank` or `bank/<file name>`): then the warehouse keeps what it loaded of
it before and `raw_bank.load_log` records it as stale. Then `raw_bank.statements` (one row per
statement: account, currency, opening and closing balances in minor units),
`raw_bank.statement_lines` (one row per line, merged on statement and position) and
`raw_bank.quarantine` (lines refused, with file, line, raw text and reason) are loaded.

Public API: `load_bank(settings)`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource
from dlt.pipeline.exceptions import PipelineStepFailed

from core.errors import ReconError, UnreadableSourceError, UserError
from core.settings import Settings
from ingest import destinations
from ingest.bank.parsers import ParsedFile, file_format, parse_file
from ingest.bank.settings import (
    DATASET_NAME,
    LINE_COLUMNS,
    LINES_TABLE,
    LOAD_LOG_COLUMNS,
    LOAD_LOG_TABLE,
    PIPELINE_NAME,
    QUARANTINE_TABLE,
    SOURCE_NAME,
    STATEMENT_COLUMNS,
    STATEMENTS_TABLE,
)
from ingest.erp.helpers import QUARANTINE_COLUMNS, InputError, quarantine_id
from ingest.report import LoadReport

__all__ = ["bank_files", "load_bank", "read_statements"]

logger = logging.getLogger(__name__)


def _columns(hints: dict[str, dict[str, Any]]) -> dict[str, TColumnSchema]:
    # fresh hints each load: dlt writes into the hints it is given
    return {name: TColumnSchema(**hint) for name, hint in hints.items()}  # type: ignore[typeddict-item]


def bank_files(folder: Path | None) -> list[Path]:
    """The statement files of the folder (by extension), in name order; a UserError when the
    folder is not one or holds none."""
    option = "--bank-dir (RECON_BANK_DIR)"
    if folder is None:
        raise UserError(f"No folder given: set {option}.")
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: check {option}.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and file_format(p) is not None)
    if not files:
        raise UserError(f"{folder} holds no statement file (.bai, .bai2, .xml or .csv): check {option}.")
    return files


def read_statements(
    files: list[Path], allowed: frozenset[str]
) -> tuple[list[ParsedFile], list[tuple[str, str]]]:
    """Parse every file before anything is loaded. An unreadable file stops the load
    (UnreadableSourceError naming it) unless `allowed` names `bank` or `bank/<file name>`; the
    files left out are returned as (file, reason)."""
    parsed: list[ParsedFile] = []
    stale: list[tuple[str, str]] = []
    for path in files:
        try:
            parsed.append(parse_file(path))
        except InputError as error:
            name = error.source or path.name
            if {SOURCE_NAME, f"{SOURCE_NAME}/{path.name.lower()}"} & allowed:
                stale.append((name, str(error)))
                continue
            raise UnreadableSourceError(
                f"The bank statement {name} {error}, so it cannot be read as a statement: fix it or "
                f"download it again and rerun, or pass --allow-missing-source {SOURCE_NAME}/{path.name} "
                "to go on without it; nothing of the bank's was loaded."
            ) from None
    return parsed, stale


def _rows(parsed: list[ParsedFile], loaded_at: datetime) -> dict[str, list[dict[str, Any]]]:
    statements: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    for one in parsed:
        counts = Counter(line.statement.statement_key for line in one.lines)
        # a refused line counts to its statement; one the file does not place, to the file's only statement
        only = one.statements[0].statement_key if len(one.statements) == 1 else None
        refused = Counter(bad.statement_key or only for bad in one.bad)
        for s in one.statements:
            statements.append({
                "statement_key": s.statement_key,
                "statement_id": s.statement_id,
                "account": s.account,
                "currency": s.currency,
                "source": s.source,
                "file_format": s.file_format,
                "from_date": s.from_date,
                "to_date": s.to_date,
                "opening_balance_minor": s.opening_balance_minor,
                "closing_balance_minor": s.closing_balance_minor,
                "line_count": counts.get(s.statement_key, 0),
                "quarantined_line_count": refused.get(s.statement_key, 0),
                "_source": s.source,
                "_loaded_at": loaded_at,
            })
        for line in one.lines:
            lines.append({**line.row(), "_source": one.source, "_loaded_at": loaded_at})
        for bad in one.bad:
            quarantine.append({
                "quarantine_id": quarantine_id(LINES_TABLE, bad.source, bad.line, bad.raw),
                "table_name": LINES_TABLE,
                "source": bad.source,
                "line": bad.line,
                "raw": bad.raw,
                "reason": bad.reason,
                "row_key": None,
                "quarantined_at": loaded_at,
            })
    return {STATEMENTS_TABLE: statements, LINES_TABLE: lines, QUARANTINE_TABLE: quarantine}


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def bank_source(tables: dict[str, list[dict[str, Any]]], log: list[dict[str, Any]]) -> Iterator[DltResource]:
    keys = {STATEMENTS_TABLE: "statement_key", LINES_TABLE: "line_id", QUARANTINE_TABLE: "quarantine_id"}
    hints = {STATEMENTS_TABLE: STATEMENT_COLUMNS, LINES_TABLE: LINE_COLUMNS, QUARANTINE_TABLE: QUARANTINE_COLUMNS}
    for name, rows in tables.items():
        yield dlt.resource(rows, name=name, write_disposition="merge", primary_key=keys[name],
                           columns=_columns(hints[name]))
    yield dlt.resource(log, name=LOAD_LOG_TABLE, write_disposition="append", columns=_columns(LOAD_LOG_COLUMNS))


def load_bank(settings: Settings, *, pipelines_dir: Path | None = None) -> LoadReport:
    """Load the statement files of `settings.bank_dir` into `raw_bank`."""
    started = time.perf_counter()
    files = bank_files(settings.bank_dir)
    parsed, stale = read_statements(files, settings.allow_missing_sources)
    loaded_at = datetime.now(UTC)
    tables = _rows(parsed, loaded_at)
    # one row per input, as the ERP's: here an input is a file (what --allow-missing-source bank/<file> names)
    log = [{"table_name": p.source, "source": p.source, "status": "loaded", "reason": None, "loaded_at": loaded_at}
           for p in parsed]
    log += [{"table_name": name, "source": name, "status": "stale", "reason": reason, "loaded_at": loaded_at}
            for name, reason in stale]
    pipeline = destinations.pipeline(PIPELINE_NAME, DATASET_NAME, settings, pipelines_dir=pipelines_dir)
    try:
        pipeline.run(bank_source(tables, log), table_format=destinations.table_format(settings))
    except PipelineStepFailed as error:
        cause = destinations.root_cause(error)
        if isinstance(cause, ReconError):
            raise cause from error
        raise
    report = LoadReport(source=SOURCE_NAME, seconds=time.perf_counter() - started)
    report.table(STATEMENTS_TABLE).new_rows = len(tables[STATEMENTS_TABLE])
    lines = report.table(LINES_TABLE)
    lines.new_rows = len(tables[LINES_TABLE])
    lines.quarantined_rows = len(tables[QUARANTINE_TABLE])
    lines.skipped_sources = len(stale)
    formats = Counter(p.file_format for p in parsed)
    report.messages.append(
        f"{len(parsed)} statement file(s) read: " + ", ".join(f"{n} {kind}" for kind, n in sorted(formats.items()))
    )
    for name, reason in stale:
        message = (f"{name} {reason}: not loaded (--allow-missing-source); what the warehouse holds of it "
                   "from earlier loads stands.")
        logger.warning(message)
        report.messages.append(message)
    return report
