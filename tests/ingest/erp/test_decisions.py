"""The team's decisions (docs/contract.md 3b) into raw_decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from erp_books import MakeSettings, write_csv

from core.errors import UserError
from ingest.decisions import load_decisions

MATCH_DECISIONS = (
    [
        "stripe_object_id",
        "erp_document_number",
        "erp_payment_number",
        "erp_journal_number",
        "decision",
        "decided_at",
        "decided_by",
    ],
    [
        ["ch_1", "INV-1", "P-1", "", "confirmed", "2025-02-03T10:15:00Z", "ana"],  # 2
        ["po_1", "", "", "J-1", "Rejected", "2025-02-03T12:00:00+01:00", "bo"],  # 3
        ["ch_2", "INV-2", "", "", "maybe", "2025-02-03T10:15:00Z", "ana"],  # 4
        ["ch_3", "INV-3", "", "", "confirmed", "2025-02-03 10:15", "ana"],  # 5
        ["ch_1", "INV-1", "P-1", "", "rejected", "2025-02-04T10:15:00Z", "ana"],  # 6
        ["ch_4", "", "", "", "confirmed", "2025-02-03T10:15:00Z", "ana"],  # 7
        ["ch_5", "INV-5", "", "", "confirmed", "03/02/2025", "ana"],  # 8
    ],
)
EXCEPTION_RESOLUTIONS = (
    ["object_id", "exception_type", "disposition", "resolved_at", "resolved_by", "note"],
    [
        [
            "ch_9",
            "missing_in_erp",
            "true_exception",
            "2025-01-31T09:00:00Z",
            "ana",
            "booked late",
        ],  # 2
        ["po_2", "timing_difference", "expected_variance", "2025-01-31T09:00:00Z", "ana", ""],  # 3
        ["ch_9", "missing_in_erp", "true_exception", "2025-02-01T09:00:00Z", "bo", ""],  # 4
        ["dp_1", "chargeback", "true_exception", "2025-01-31T09:00:00Z", "ana", ""],  # 5
    ],
)
EXPECTED_QUARANTINE = [
    ("match_decisions", 4, "decision: 'maybe' is not one of confirmed, rejected"),
    (
        "match_decisions",
        6,
        "duplicate key stripe_object_id=ch_1, erp_document_number=INV-1, erp_payment_number=P-1",
    ),
    (
        "match_decisions",
        7,
        "one of erp_document_number, erp_payment_number, erp_journal_number must be filled",
    ),
    ("match_decisions", 8, "decided_at: '03/02/2025' is not an ISO 8601 time"),
    ("exception_resolutions", 4, "duplicate key object_id=ch_9, exception_type=missing_in_erp"),
    ("exception_resolutions", 5, "exception_type: 'chargeback' is not one of"),
]


@pytest.fixture
def decisions_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "decisions"
    folder.mkdir()
    write_csv(folder / "match_decisions.csv", MATCH_DECISIONS)
    write_csv(folder / "exception_resolutions.csv", EXCEPTION_RESOLUTIONS)
    return folder


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_decisions_counts_and_quarantine(
    decisions_dir: Path, make_settings: MakeSettings, pipelines_dir: Path
) -> None:
    settings = make_settings(decisions_dir=str(decisions_dir))

    report = load_decisions(settings, pipelines_dir=pipelines_dir)

    # Line 5's time has no zone: UTC, as the contract says decision times are.
    assert report.table("match_decisions").new_rows == 3
    assert report.table("exception_resolutions").new_rows == 2
    assert report.quarantined_rows == len(EXPECTED_QUARANTINE)
    stored = rows(
        settings.warehouse, "select table_name, line, reason from raw_decisions.quarantine"
    )
    for table, line, reason in EXPECTED_QUARANTINE:
        found = [r for r in stored if r[0] == table and r[1] == line]
        assert len(found) == 1 and reason in str(found[0][2]), (table, line, found)
    assert len(stored) == len(EXPECTED_QUARANTINE)
    decided = rows(
        settings.warehouse,
        "select match_decision_key, decision, decided_at from raw_decisions.match_decisions "
        "order by 1",
    )
    assert decided[0][0] == "ch_1|INV-1|P-1|"
    assert decided[1] == ("ch_3|INV-3||", "confirmed", datetime(2025, 2, 3, 10, 15, tzinfo=UTC))
    # A choice is stored as the contract spells it, whatever its case.
    assert decided[2][:2] == ("po_1|||J-1", "rejected")
    assert decided[2][2] == datetime(2025, 2, 3, 11, 0, tzinfo=UTC)

    again = load_decisions(settings, pipelines_dir=pipelines_dir)
    assert sum(t.new_rows + t.updated_rows for t in again.tables) == 0


def test_no_decisions_folder(make_settings: MakeSettings, pipelines_dir: Path) -> None:
    with pytest.raises(UserError, match="--decisions-dir"):
        load_decisions(make_settings(), pipelines_dir=pipelines_dir)
