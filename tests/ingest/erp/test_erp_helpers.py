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
    [
        ("1204.50", Decimal("1204.50")),
        ("-3", Decimal("-3")),
        ("+0.125", Decimal("0.125")),
        ("29", Decimal("29")),
        ("29.", Decimal("29")),
        ("29.0", Decimal("29")),
        ("+29.00", Decimal("29")),
        (".50", Decimal("0.5")),
        ("-.5", Decimal("-0.5")),
        ("  29.99 ", Decimal("29.99")),
        ("\u00a029.99\t", Decimal("29.99")),
        ("0029.90", Decimal("29.9")),
        ("9" * 35 + ".999", Decimal("9" * 35 + ".999")),
    ],
    ids=[
        "dot",
        "negative-integer",
        "plus-sign",
        "integer",
        "trailing-dot",
        "one-trailing-zero",
        "plus-two-zeros",
        "no-integer-part",
        "negative-no-integer-part",
        "spaces-around",
        "nbsp-and-tab-around",
        "leading-zeros",
        "widest",
    ],
)
def test_amount_ok(text: str, expected: Decimal) -> None:
    value = parse_amount(text)
    assert value == expected
    assert isinstance(value, Decimal)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1,2O4.50", "holds the letter 'O'"),
        ("1,204.50", "which one is the decimal mark is ambiguous"),
        ("1.204,50", "which one is the decimal mark is ambiguous"),
        ("1,204", "may be a thousands separator (1,204 = 1204) or a decimal comma"),
        ("12,5", "decimal comma; write the decimal mark as a dot"),
        ("1 204,50", "a space or an apostrophe between digits is a thousands separator"),
        ("12 000", "a space or an apostrophe between digits"),
        ("1'204.50", "a space or an apostrophe between digits"),
        ("1.204.000", "its dots look like thousands separators"),
        ("1e3", "scientific notation"),
        ("1.5E+2", "scientific notation"),
        ("$29.00", "currency sign or code"),
        ("29.00 EUR", "currency sign or code"),
        ("USD 29.00", "currency sign or code"),
        ("(29.00)", "write a negative amount with a leading minus, like -29.00"),
        ("29.00-", "its minus sign is at the end"),
        ("NaN", "holds no digits"),
        (".", "holds no digits"),
        ("", "holds no digits"),
        ("--5", "with a dot (like 1204.50)"),
        ("\u0662\u0669", "holds no digits"),
        ("1" * 36, "more than 35 digits before the decimal point"),
    ],
    ids=[
        "letter-o",
        "thousands-comma-decimal-dot",
        "thousands-dot-decimal-comma",
        "comma-thousands-or-decimal",
        "decimal-comma",
        "space-thousands",
        "space-integer",
        "apostrophe-thousands",
        "dot-thousands",
        "exponent",
        "exponent-plus",
        "dollar-sign",
        "code-after",
        "code-before",
        "parentheses",
        "trailing-minus",
        "nan",
        "dot-alone",
        "empty",
        "double-sign",
        "arabic-indic-digits",
        "too-wide",
    ],
)
def test_amount_refused_with_why(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=r"not a decimal number|too large") as caught:
        parse_amount(text)
    assert why in str(caught.value)


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
        ("29.", "usd", True),
        ("29.0000", "usd", True),
        ("1" * 34 + ".01", "usd", True),
        ("1" * 34 + ".001", "usd", False),
    ],
    ids=[
        "kwd-3",
        "kwd-4",
        "jpy-0",
        "jpy-trailing-zeros",
        "jpy-half",
        "usd-2",
        "usd-3",
        "usd-trailing-dot",
        "usd-four-zeros",
        "usd-wide-exact",
        "usd-wide-mill",
    ],
)
def test_fits_exponent(amount: str, currency: str, fits: bool) -> None:
    assert fits_exponent(parse_amount(amount), currency) is fits


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2025/01/04", "write it with dashes"),
        ("20250104", "not a date YYYY-MM-DD"),
        ("2025-02-30", "not a valid date"),
        ("04-01-2025", "the day and the month can be read either way"),
        ("03/04/2025", "the day and the month can be read either way"),
        ("31.12.2025", "the day and the month can be read either way"),
        ("2025-1-4", "two digits"),
        ("2025-01-31T25:00:00", "not a valid date"),
        ("2025-01-31T", "not a date"),
        ("Jan 31, 2025", "not a date"),
    ],
    ids=[
        "slashes",
        "basic-format",
        "no-such-day",
        "day-first-dashes",
        "day-or-month-first",
        "dots",
        "no-padding",
        "no-such-hour",
        "dangling-t",
        "words",
    ],
)
def test_date_bad(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="date") as caught:
        parse_date(text)
    assert why in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-31",
        " 2025-01-31 ",
        "2025-01-31T00:00:00",
        "2025-01-31 00:00:00",
        "2025-01-31T00:00:00Z",
        "2025-01-31 00:00:00z",
        "2025-01-31T00:00",
        "2025-01-31T00:00:00.000",
        "2025-01-31T23:30:00-05:00",
        "2025-01-31T00:30:00+0900",
    ],
    ids=[
        "date",
        "spaces",
        "t-midnight",
        "space-midnight",
        "t-midnight-z",
        "space-midnight-lower-z",
        "minutes",
        "fraction",
        "late-in-a-western-zone",
        "early-in-an-eastern-zone",
    ],
)
def test_date_ok_is_the_date_as_written(text: str) -> None:
    assert parse_date(text) == date(2025, 1, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-03T10:15:00Z", datetime(2025, 2, 3, 10, 15, tzinfo=UTC)),
        ("2025-02-03T10:15:00.5+00:00", datetime(2025, 2, 3, 10, 15, 0, 500000, tzinfo=UTC)),
        ("2025-02-03T11:15:00+01:00", datetime(2025, 2, 3, 10, 15, tzinfo=UTC)),
        ("2025-02-03T11:15:00+0100", datetime(2025, 2, 3, 10, 15, tzinfo=UTC)),
        ("2025-02-03 10:15:00z", datetime(2025, 2, 3, 10, 15, tzinfo=UTC)),
        ("2025-02-03T10:15:00", datetime(2025, 2, 3, 10, 15, tzinfo=UTC)),
        ("2025-02-03 10:15", datetime(2025, 2, 3, 10, 15, tzinfo=UTC)),
        ("2025-02-03", datetime(2025, 2, 3, tzinfo=UTC)),
    ],
    ids=[
        "zulu",
        "fraction-offset-zero",
        "offset-converted",
        "offset-without-colon",
        "space-lower-z",
        "no-zone-is-utc",
        "no-seconds-no-zone",
        "date-only-is-midnight-utc",
    ],
)
def test_timestamp_ok(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    ["03/02/2025 10:15Z", "2025-02-30T10:15:00Z", "2025-02-03T24:15:00Z", "yesterday"],
    ids=["not-iso", "no-such-day", "no-such-hour", "words"],
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
    [(b"", "is empty"), (b"a,A\n1,2\n", "more than once"), (b"a,\xe9\n1,2\n", "not UTF-8")],
    ids=["empty", "duplicate-header", "latin1-header"],
)
def test_read_csv_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        list(read_csv(path).records)


def test_read_csv_gives_an_undecodable_line_as_one_record_with_its_problem(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'a,b\n1,caf\xe9\n2,"x\x00"\n3,ok\n')
    records = list(read_csv(path).records)
    assert [(r.line, r.raw, r.problem is None) for r in records] == [
        (2, "1,caf\\xe9", False),
        (3, '2,"x\\x00"', False),
        (4, "3,ok", True),
    ]
    assert records[0].problem is not None and "0xE9" in records[0].problem
    assert records[1].problem is not None and "NUL" in records[1].problem
