"""The pure helpers: parsing values exactly, reading CSV records with their lines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.erp.helpers import (
    InputError,
    fits_exponent,
    parse_amount,
    parse_date,
    parse_timestamp,
    read_csv,
    sql_value_text,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1204.50", Decimal("1204.50")), ("-3", Decimal("-3")), ("+0.125", Decimal("0.125"))],
    ids=["dot", "negative-integer", "plus-sign"],
)
def test_amount_ok(text: str, expected: Decimal) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    "text",
    ["1,2O4.50", "1,204.50", "12,5", "1e3", ".5", "5.", "NaN", "12 000"],
    ids=[
        "letter-o",
        "thousands",
        "decimal-comma",
        "exponent",
        "no-integer-part",
        "no-decimals",
        "nan",
        "space",
    ],
)
def test_amount_bad(text: str) -> None:
    with pytest.raises(ValueError, match="not a decimal number"):
        parse_amount(text)


@pytest.mark.parametrize(
    ("amount", "currency", "fits"),
    [
        ("12.345", "kwd", True),
        ("12.3456", "KWD", False),
        ("4800", "JPY", True),
        ("4800.00", "jpy", True),
        ("48.5", "jpy", False),
        ("10.50", "usd", True),
        ("10.505", "usd", False),
    ],
    ids=["kwd-3", "kwd-4", "jpy-0", "jpy-trailing-zeros", "jpy-half", "usd-2", "usd-3"],
)
def test_fits_exponent(amount: str, currency: str, fits: bool) -> None:
    assert fits_exponent(Decimal(amount), currency) is fits


@pytest.mark.parametrize(
    "text",
    ["2025/01/04", "20250104", "2025-02-30", "04-01-2025", "2025-1-4"],
    ids=["slashes", "basic-format", "no-such-day", "day-first", "no-padding"],
)
def test_date_bad(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_date_ok() -> None:
    assert parse_date("2025-01-04") == date(2025, 1, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-03T10:15:00Z", datetime(2025, 2, 3, 10, 15, tzinfo=UTC)),
        ("2025-02-03T10:15:00.5+00:00", datetime(2025, 2, 3, 10, 15, 0, 500000, tzinfo=UTC)),
        ("2025-02-03T11:15:00+01:00", datetime(2025, 2, 3, 10, 15, tzinfo=UTC)),
    ],
    ids=["zulu", "fraction-offset-zero", "offset-converted"],
)
def test_timestamp_ok(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2025-02-03T10:15:00", "2025-02-03", "03/02/2025 10:15Z", "2025-02-30T10:15:00Z"],
    ids=["no-zone", "date-only", "not-iso", "no-such-day"],
)
def test_timestamp_bad(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.340"), "12.340"),
        (Decimal("1E+2"), "100"),
        (date(2025, 1, 2), "2025-01-02"),
        (None, None),
        (7, "7"),
    ],
    ids=["decimal", "decimal-exponent", "date", "null", "integer"],
)
def test_sql_value_text(value: object, text: str | None) -> None:
    assert sql_value_text(value) == text


def test_read_csv_lines_and_raw(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a,b\r\n1,"x\r\ny"\r\n\r\n2,z\r\n', encoding="utf-8", newline="")
    table_input = read_csv(path)
    records = list(table_input.records)
    assert table_input.header == ["a", "b"]
    assert [(r.line, r.raw, list(r.values)) for r in records] == [
        (2, '1,"x\r\ny"', ["1", "x\r\ny"]),
        (5, "2,z", ["2", "z"]),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"a,A\n1,2\n", "more than once"), (b"a,b\n\xff\xfe,1\n", "not UTF-8")],
    ids=["empty", "duplicate-header", "latin1"],
)
def test_read_csv_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        list(read_csv(path).records)
