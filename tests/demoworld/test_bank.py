"""The demo world's bank statements: the three formats, each statement adding up, and the messes
banks make (a split payout, a returned payout, a bank fee, a statement of two days), read back
with the project's own parsers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ingest.bank.parsers import parse_file


def _truth(world: Path, name: str) -> list[dict[str, str]]:
    with (world / "truth" / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_statements_in_three_formats_that_add_up(small_world: Path) -> None:
    parsed = [parse_file(p) for p in sorted((small_world / "bank").iterdir())]
    assert {p.file_format for p in parsed} == {"bai2", "camt053", "csv"}
    for one in parsed:
        assert not one.bad, one.source
        for statement in one.statements:
            total = sum(line.amount_minor for line in one.lines if line.statement is statement)
            assert statement.opening_balance_minor is not None and statement.closing_balance_minor is not None
            assert statement.opening_balance_minor + total == statement.closing_balance_minor, one.source
    lines = _truth(small_world, "bank_lines.csv")
    assert len(lines) == sum(len(p.lines) for p in parsed)


def test_the_messes_banks_make(small_world: Path) -> None:
    lines = _truth(small_world, "bank_lines.csv")
    exceptions = {row["exception_type"] for row in _truth(small_world, "bank_exceptions.csv")}
    payouts = {
        p["id"]: p
        for p in map(json.loads, (small_world / "stripe" / "payouts.jsonl").read_text().splitlines())
    }
    credits: dict[str, list[int]] = {}
    for row in lines:
        if row["payout_id"] and int(row["amount_minor"]) > 0:
            credits.setdefault(row["payout_id"], []).append(int(row["amount_minor"]))
    split = [po for po, amounts in credits.items() if len(amounts) == 2]
    assert split and sum(credits[split[0]]) == payouts[split[0]]["amount"]
    returned = [row for row in lines if row["status"] == "payout_returned"]
    assert returned and payouts[returned[0]["payout_id"]]["status"] == "failed"
    assert any(sum(amounts) < payouts[po]["amount"] for po, amounts in credits.items())
    assert {"bank_fee_on_payout", "payout_not_received_by_bank", "unexplained_bank_credit"} <= exceptions
    spanning = [
        s for p in sorted((small_world / "bank").iterdir()) for s in parse_file(p).statements
        if s.from_date != s.to_date
    ]
    assert len(spanning) == 1
