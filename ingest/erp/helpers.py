"""Pure helpers of the ERP and decisions loads: read, validate, fingerprint, batch as arrow.

Nothing here knows dlt. A table is described by a `TableSpec` (its columns, their kinds, its
key); `TableProcessor` turns the records of one input (a CSV file or a SQL table) into arrow
batches of accepted rows and quarantined rows, and counts what it did.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from core.currencies import exponents

ColumnKind = Literal["text", "amount", "date", "timestamp", "currency", "choice", "integer"]

# Columns every loaded row carries besides its own (see settings.py for their meaning).
FINGERPRINT_COLUMN = "_row_fingerprint"
SOURCE_COLUMN = "_source"
LOADED_AT_COLUMN = "_loaded_at"

# The decimal type amounts land as: exact, wide enough for any ERP total, with as many
# decimals as the currency seed's largest exponent (3: KWD, BHD, ...).
AMOUNT_PRECISION = 38

# An amount: an optional sign, digits with an optional dot (`29`, `29.`, `29.0`) or a dot and
# digits (`.50`). Only ASCII digits: `\d` would take other scripts' digits.
_AMOUNT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# DECIMAL(38, 3) holds 35 digits before the point.
MAX_INTEGER_DIGITS = AMOUNT_PRECISION - 3
# Arithmetic on amounts never rounds: wider than any amount the stored type holds.
_EXACT = Context(prec=AMOUNT_PRECISION * 2)
_CURRENCY_SIGN_RE = re.compile(
    r"[$\u00a2-\u00a5\u20a0-\u20cf]|^[A-Za-z]{3}\s*[-+.0-9]|[.0-9]\s*[A-Za-z]{3}$"
)
_EXPONENT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+")
_ZONE = r"(?P<zone>[zZ]|[+-][0-9]{2}(?::?[0-9]{2})?)"
_TIME = r"[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?" + _ZONE + "?"
_DATE_ONLY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_RE = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})(?P<time>" + _TIME + ")?")
_TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}" + _TIME)
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
# The two halves of an unquoted `1,204.50` that the CSV reader split into two values.
_THOUSANDS_HEAD_RE = re.compile(r"[+-]?[0-9]{1,3}")
_THOUSANDS_TAIL_RE = re.compile(r"[0-9]{3}(?:\.[0-9]*)?")
# `Credit Memo`, `credit-memo` and `credit_memo` are one choice.
_CHOICE_SEPARATOR_RE = re.compile(r"[\s-]+")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an input table.

    `kind` decides how the text is checked and the type it lands as: amount (a decimal with a dot
    that fits the exponent of the row's `currency` column, see `parse_amount`), date (YYYY-MM-DD,
    a time part ignored), timestamp (ISO 8601, stored in UTC; UTC when it names no zone),
    currency (known to the seed, any case), choice (one of `choices`, any case, spaces or dashes
    for underscores; stored as the choice), integer, text.
    """

    name: str
    kind: ColumnKind = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: Decimal | None = None


@dataclass(frozen=True)
class TableSpec:
    """One input table: its file name, its columns and its key.

    `key` names the columns whose values identify a row; the first row with a key is kept and
    later ones are quarantined. When a key column may be empty (match decisions), `key_column`
    names a surrogate text column holding the key's values joined by `|`, and that column is the
    table's primary key in the warehouse instead.
    `one_of` lists columns of which at least one must be filled.
    `zero_beside` lists pairs of amount columns (debit, credit) of which one may be left empty
    when the other is filled: the empty one reads as 0, as real exports leave it.
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    key_column: str | None = None
    one_of: tuple[str, ...] = ()
    optional_input: bool = False
    zero_beside: tuple[tuple[str, str], ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def primary_key(self) -> tuple[str, ...]:
        return (self.key_column,) if self.key_column else self.key

    def column(self, name: str) -> ColumnSpec | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None


@dataclass(frozen=True)
class RawRecord:
    """One record as read: its line (CSV: 1-based, the header is line 1; SQL: the row's 1-based
    ordinal), its raw text and its values (None where absent). `problem` says why a record
    could not be read at all (bytes that are not UTF-8, a line the CSV reader refused); its raw
    text then shows such bytes escaped (`\\xe9`)."""

    line: int
    raw: str
    values: Sequence[str | None]
    problem: str | None = None


def _no_close() -> None:
    return None


@dataclass
class TableInput:
    """One input of a table: a named source, its header and its records; `close` releases it
    when its records are not read to the end."""

    source: str
    header: list[str]
    records: Iterator[RawRecord]
    close: Callable[[], None] = _no_close


class InputError(Exception):
    """A whole input cannot be loaded as its table (a required column missing, not text, ...);
    `source` names it (a file, a database table) when the raiser knows."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


def missing_columns(spec: TableSpec, header: Sequence[str]) -> list[str]:
    """The spec's required columns the header lacks."""
    return [name for name in spec.required if name not in header]


@dataclass
class TableCounts:
    """What one table's load did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    new_quarantine: int = 0
    seconds: float = 0.0
    sources: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Parsing single values


def amount_scale() -> int:
    """Decimals of the stored amount type: the largest exponent in the currency seed."""
    return max(exponents().values())


def parse_amount(text: str) -> Decimal:
    """An amount as exports write it, exactly: `1204.50`, `-3`, `+29.00`, `29.`, `.50`, with
    spaces around it. A dot is the only decimal mark. What a reader could take two ways (a comma,
    a space or an apostrophe inside the number) or what is not a plain number is refused with a
    reason that says why and what to write instead."""
    clean = text.strip()
    if not _AMOUNT_RE.fullmatch(clean):
        raise ValueError(_amount_refusal(clean))
    integer_digits = len(clean.lstrip("+-").split(".")[0].lstrip("0"))
    if integer_digits > MAX_INTEGER_DIGITS:
        raise ValueError(
            f"{clean!r} has more than {MAX_INTEGER_DIGITS} digits before the decimal point: "
            "too large for an amount"
        )
    try:
        return Decimal(clean)
    except InvalidOperation as error:  # pragma: no cover - the regex already guards this
        raise ValueError(f"{clean!r} is not a decimal number") from error


def _amount_refusal(text: str) -> str:
    """Why `text` is not taken as an amount, and what to write instead."""
    number = f"{text!r} is not a decimal number"
    if not re.search("[0-9]", text):
        return f"{number}: it holds no digits 0-9"
    if _CURRENCY_SIGN_RE.search(text):
        return (
            f"{number}: it carries a currency sign or code; write the number alone "
            "(like 1204.50) and the currency in the currency column"
        )
    if _EXPONENT_RE.fullmatch(text):
        return f"{number}: it is in scientific notation; write every digit (like 1200.00)"
    letter = re.search(r"[^\W\d_]", text)
    if letter:
        return f"{number}: it holds the letter {letter.group()!r}; write digits only, like 1204.50"
    if re.fullmatch(r"\(\s*[0-9.,]+\s*\)", text):
        return (
            f"{number}: parentheses may mark a negative amount or a note; write a negative "
            "amount with a leading minus, like -29.00"
        )
    if re.fullmatch(r"[0-9.,]+\s*-", text):
        return f"{number}: its minus sign is at the end; write it first, like -29.00"
    if re.search(r"[0-9][\s'\u2019][0-9]", text):
        return (
            f"{number}: a space or an apostrophe between digits is a thousands separator, and "
            "exports that use one differ on the decimal mark (1 204,50 or 1'204.50); write it "
            "without separators and with a dot, like 1204.50"
        )
    if "," in text and "." in text:
        return (
            f"{number}: it mixes ',' and '.', so which one is the decimal mark is ambiguous "
            "(1,204.50 in one export is 1.204,50 in another); write it without a thousands "
            "separator and with a dot, like 1204.50"
        )
    if re.fullmatch(r"[+-]?[0-9]{1,3}(,[0-9]{3})+", text):
        return (
            f"{number}: ',' may be a thousands separator (1,204 = 1204) or a decimal comma "
            "(1,204 = 1.204); write it without a thousands separator and with a dot"
        )
    if re.fullmatch(r"[+-]?[0-9]*,[0-9]+", text):
        return f"{number}: it has a decimal comma; write the decimal mark as a dot, like 12.50"
    if re.fullmatch(r"[+-]?[0-9]{1,3}(\.[0-9]{3}){2,}", text):
        return f"{number}: its dots look like thousands separators; write it without them"
    return f"{number} with a dot (like 1204.50)"


def fits_exponent(amount: Decimal, currency: str) -> bool:
    """True when `amount` is a whole number of the currency's minor units (trailing zeros are fine)."""
    scaled = amount.scaleb(exponents()[currency.lower()], context=_EXACT)
    return scaled == scaled.to_integral_value(context=_EXACT)


def parse_date(text: str) -> date:
    """An ISO date `YYYY-MM-DD`, also with the time part some exports add (`2025-01-31T00:00:00`,
    `2025-01-31 00:00:00Z`, `...+01:00`): the date as written, whatever the time and the zone
    (an ERP's dates are days of its books, not instants). A date written with slashes or dots
    (`03/04/2025`) is refused: which part is the day is ambiguous."""
    clean = text.strip()
    match = _DATE_RE.fullmatch(clean)
    if match is None:
        raise ValueError(_date_refusal(clean))
    try:
        day = date.fromisoformat(match.group("date"))
        if match.group("time"):
            datetime.fromisoformat(_iso_zone(clean))  # a time that exists (no 25:00)
    except ValueError as error:
        raise ValueError(f"{clean!r} is not a valid date") from error
    return day


def _date_refusal(text: str) -> str:
    shown = f"{text!r} is not a date YYYY-MM-DD"
    if re.fullmatch(r"[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}", text):
        return (
            f"{shown}: in a date like 03/04/2025 the day and the month can be read either way "
            "(3 April or March 4); write it as YYYY-MM-DD"
        )
    if re.fullmatch(r"[0-9]{4}[/.][0-9]{1,2}[/.][0-9]{1,2}", text):
        return f"{shown}: write it with dashes, like 2025-01-04"
    if re.fullmatch(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}", text):
        return f"{shown}: write the month and the day with two digits, like 2025-01-04"
    return shown


def _iso_zone(text: str) -> str:
    """`text` with a trailing `Z` (any case) as `+00:00`, which Python's ISO parser reads."""
    return re.sub("[zZ]$", "+00:00", text)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 time, returned in UTC: `2025-02-03T10:15:00Z`, `+01:00`, a space for the T.
    A time without a zone is UTC (docs/contract.md section 3b: times are in UTC); a date alone is
    midnight UTC of that day."""
    clean = text.strip()
    if _DATE_ONLY_RE.fullmatch(clean):
        return datetime.combine(parse_date(clean), time(0), tzinfo=UTC)
    if not _TIMESTAMP_RE.fullmatch(clean):
        raise ValueError(f"{clean!r} is not an ISO 8601 time like 2025-02-03T10:15:00Z")
    try:
        value = datetime.fromisoformat(_iso_zone(clean))
    except ValueError as error:
        raise ValueError(f"{clean!r} is not a valid time") from error
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def sql_value_text(value: Any) -> str | None:
    """A database value as the text a CSV export would hold (exact for decimals and dates)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def fingerprint(parts: Iterable[str]) -> str:
    """A short, stable hash of a row's values."""
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


def csv_line(values: Sequence[str | None]) -> str:
    """Values as one CSV line (how a SQL row is shown in the quarantine)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def normalize_header(names: Sequence[str]) -> list[str]:
    """Header names stripped and lower-cased; empty names become `unnamed_<n>`."""
    result = []
    for position, name in enumerate(names, start=1):
        clean = name.strip().lower()
        result.append(clean or f"unnamed_{position}")
    duplicates = sorted({n for n in result if result.count(n) > 1})
    if duplicates:
        raise InputError(f"names the column(s) {', '.join(duplicates)} more than once in its header")
    return result


# ---------------------------------------------------------------------------------------------
# Reading inputs


# How much of a file is looked at to tell text from something else.
SNIFF_BYTES = 64 * 1024
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def escape_bytes(text: str) -> str:
    """Text read with `surrogateescape`, its undecodable bytes shown as `\\xe9` and NUL as `\\x00`:
    printable, storable, and still saying which bytes were there."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def _undecodable(text: str) -> list[str]:
    """The bytes of `text` (read with `surrogateescape`) that were not UTF-8, as `0xE9`."""
    found = sorted({ord(c) - 0xDC00 for c in text if "\udc80" <= c <= "\udcff"})
    shown = [f"0x{b:02X}" for b in found[:5]]
    return [*shown, f"and {len(found) - 5} more"] if len(found) > 5 else shown


def _sniff(path: Path) -> None:
    """Raise InputError when the file is not UTF-8 text at all (UTF-16 or UTF-32, binary)."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(_UTF16_32_BOMS) and not head.startswith(b"\xef\xbb\xbf"):
        raise InputError("is UTF-16 or UTF-32 text, not UTF-8")
    if head.count(b"\x00") > max(2, len(head) // 100):
        raise InputError("holds NUL bytes (UTF-16 without a byte-order mark, or not text at all)")


def read_csv(path: Path) -> TableInput:
    """Open a CSV file: its header and a lazy iterator of records with their line and raw text.

    A file that is not UTF-8 text at all, or whose header cannot be read, raises InputError
    here. A record holding bytes that are not UTF-8 (one Latin-1 memo), a NUL byte, or that the
    CSV reader refuses (a field over the size limit) comes as a record with a `problem`, its raw
    text escaped, and the records after it are read as usual. Blank lines are skipped (they hold
    no data).
    """
    _sniff(path)
    handle = path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in handle:
            consumed.append(line)
            yield line

    reader = csv.reader(lines())
    try:
        first = next(reader, None)
    except csv.Error as error:
        handle.close()
        raise InputError(f"cannot be read as CSV ({error})") from error
    if first is None:
        handle.close()
        raise InputError("is empty (no header line)")
    bad = _undecodable("".join(first))
    if bad:
        handle.close()
        raise InputError(f"is not UTF-8 text (its header holds the byte(s) {', '.join(bad)})")
    try:
        header = normalize_header(first)
    except InputError:
        handle.close()
        raise
    consumed.clear()

    def records() -> Iterator[RawRecord]:
        start = reader.line_num + 1
        try:
            while True:
                problem: str | None = None
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    values, problem = [], f"cannot be read as CSV ({error})"
                raw = "".join(consumed).rstrip("\r\n")
                consumed.clear()
                line, start = start, reader.line_num + 1
                if problem is None and (not values or (len(values) == 1 and not values[0].strip())):
                    continue
                bad = _undecodable(raw)
                if bad:
                    problem = f"not UTF-8 text: the byte(s) {', '.join(bad)} (shown as \\x.. in raw)"
                elif "\x00" in raw:
                    problem = "holds a NUL byte (shown as \\x00 in raw)"
                if problem is not None:
                    escaped = [escape_bytes(v) for v in values]
                    yield RawRecord(line=line, raw=escape_bytes(raw), values=escaped, problem=problem)
                else:
                    yield RawRecord(line=line, raw=raw, values=values)
        finally:
            handle.close()

    return TableInput(source=path.name, header=header, records=records(), close=handle.close)


def sql_records(rows: Iterable[Sequence[Any]]) -> Iterator[RawRecord]:
    """Database rows as records; `line` is the row's 1-based ordinal in the order the database
    returned it (there is no header line)."""
    for ordinal, row in enumerate(rows, start=1):
        values = [sql_value_text(v) for v in row]
        yield RawRecord(line=ordinal, raw=csv_line(values), values=values)


# ---------------------------------------------------------------------------------------------
# Validating and batching


def _arrow_type(column: ColumnSpec | None) -> pa.DataType:
    kind = column.kind if column else "text"
    if kind == "amount":
        return pa.decimal128(AMOUNT_PRECISION, amount_scale())
    if kind == "date":
        return pa.date32()
    if kind == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if kind == "integer":
        return pa.int64()
    return pa.string()


def dlt_columns(spec: TableSpec) -> dict[str, dict[str, Any]]:
    """dlt column hints of a table, so optional columns exist even when always empty."""
    hints: dict[str, dict[str, Any]] = {}
    for column in spec.columns:
        hint: dict[str, Any] = {"name": column.name, "nullable": not column.required}
        if column.kind == "amount":
            hint.update(data_type="decimal", precision=AMOUNT_PRECISION, scale=amount_scale())
        elif column.kind == "date":
            hint["data_type"] = "date"
        elif column.kind == "timestamp":
            hint.update(data_type="timestamp", timezone=True)
        elif column.kind == "integer":
            hint["data_type"] = "bigint"
        else:
            hint["data_type"] = "text"
        hints[column.name] = hint
    if spec.key_column:
        hints[spec.key_column] = {"name": spec.key_column, "data_type": "text", "nullable": False}
    if not spec.key_column:
        for name in spec.key:
            hints[name]["nullable"] = False
    hints[FINGERPRINT_COLUMN] = {"name": FINGERPRINT_COLUMN, "data_type": "text", "nullable": False}
    hints[SOURCE_COLUMN] = {"name": SOURCE_COLUMN, "data_type": "text", "nullable": False}
    hints[LOADED_AT_COLUMN] = {
        "name": LOADED_AT_COLUMN,
        "data_type": "timestamp",
        "timezone": True,
        "nullable": False,
    }
    return hints


QUARANTINE_COLUMNS: dict[str, dict[str, Any]] = {
    "quarantine_id": {"name": "quarantine_id", "data_type": "text", "nullable": False},
    "table_name": {"name": "table_name", "data_type": "text", "nullable": False},
    "source": {"name": "source", "data_type": "text", "nullable": False},
    "line": {"name": "line", "data_type": "bigint", "nullable": False},
    "raw": {"name": "raw", "data_type": "text", "nullable": False},
    "reason": {"name": "reason", "data_type": "text", "nullable": False},
    # The row's key as written (its values joined by `|`), when the row has one: what later
    # rows that name it (a payment applied to a refused invoice) are joined on.
    "row_key": {"name": "row_key", "data_type": "text", "nullable": True},
    "quarantined_at": {
        "name": "quarantined_at",
        "data_type": "timestamp",
        "timezone": True,
        "nullable": False,
    },
}

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("quarantine_id", pa.string(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("row_key", pa.string(), nullable=True),
        pa.field("quarantined_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def quarantine_id(table: str, source: str, line: int, raw: str) -> str:
    """The quarantine's key: the same bad row read again is not quarantined twice."""
    return fingerprint((table, source, str(line), raw))


def validate(spec: TableSpec, row: Mapping[str, str | None]) -> tuple[dict[str, Any], list[str]]:
    """Check one row against its spec. Returns the parsed values and the reasons it is bad."""
    reasons: list[str] = []
    parsed: dict[str, Any] = {}
    known = exponents()
    if spec.zero_beside:
        row = dict(row)
        for first, second in spec.zero_beside:
            if row.get(first) is None and row.get(second) is not None:
                row[first] = "0"
            elif row.get(second) is None and row.get(first) is not None:
                row[second] = "0"
    currency = row.get("currency")
    currency_known = currency is not None and currency.lower() in known
    for column in spec.columns:
        text = row.get(column.name)
        if text is None:
            if column.required:
                reasons.append(f"{column.name} is empty")
            parsed[column.name] = None
            continue
        try:
            parsed[column.name] = _parse(column, text, currency if currency_known else None)
        except ValueError as error:
            reasons.append(f"{column.name}: {error}")
    if spec.one_of and all(row.get(name) is None for name in spec.one_of):
        reasons.append(f"one of {', '.join(spec.one_of)} must be filled")
    return parsed, reasons


def _parse(column: ColumnSpec, text: str, currency: str | None) -> Any:
    kind = column.kind
    if kind == "amount":
        amount = parse_amount(text)
        if column.minimum is not None and amount < column.minimum:
            raise ValueError(f"{text} is below {column.minimum}")
        if currency is not None:
            if not fits_exponent(amount, currency):
                decimals = exponents()[currency.lower()]
                raise ValueError(
                    f"{text} has more decimals than {currency.upper()} allows ({decimals}): "
                    f"an amount must be a whole number of {currency.upper()}'s minor unit"
                )
            # Exact: a whole number of minor units has at most the stored type's decimals
            # (`29.0000` USD is 29.000), so the arrow decimal never rounds.
            amount = amount.quantize(Decimal(1).scaleb(-amount_scale()), context=_EXACT)
        return amount
    if kind == "date":
        return parse_date(text)
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "currency":
        if text.lower() not in exponents():
            raise ValueError(f"{text!r} is not a known ISO 4217 currency")
        return text
    if kind == "choice":
        choice = _CHOICE_SEPARATOR_RE.sub("_", text.strip().lower())
        if choice not in column.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(column.choices)}")
        return choice
    if kind == "integer":
        if not _INTEGER_RE.fullmatch(text):
            raise ValueError(f"{text!r} is not a whole number")
        return int(text)
    return text


def _row_key(values: Sequence[str | None], positions: Sequence[int | None]) -> str | None:
    """The key of a row whose width is wrong, read by position where it can be (the columns
    before the one that split or went missing are still in their place)."""
    key = []
    for position in positions:
        value = values[position] if position is not None and position < len(values) else None
        key.append((value or "").strip())
    return "|".join(key) if any(key) else None


def _width_reason(spec: TableSpec, header: Sequence[str], values: Sequence[str | None]) -> str:
    """Why a row has another number of values than the header, as precisely as it can say."""
    reason = f"the row has {len(values)} values, the header has {len(header)}"
    if len(values) != len(header) + 1:
        return reason
    for position, name in enumerate(header):
        column = spec.column(name)
        if column is None or column.kind != "amount":
            continue
        first, second = values[position] or "", values[position + 1] or ""
        if _THOUSANDS_HEAD_RE.fullmatch(first.strip()) and _THOUSANDS_TAIL_RE.fullmatch(
            second.strip()
        ):
            return (
                f"{reason}: {name} looks written with a thousands separator and no quotes "
                f"({first.strip()},{second.strip()}), which splits it in two columns; write "
                "amounts without a thousands separator, like 1204.50"
            )
    return reason


class TableProcessor:
    """Validates the records of one table's input and batches them as arrow tables.

    `known` maps each key already in the warehouse (its values joined by `|`) to its row fingerprint: an unchanged row is
    not sent again, a changed one is sent (the merge updates it) and counted as updated.
    `known_quarantine` holds the quarantine ids already stored.
    """

    def __init__(
        self,
        spec: TableSpec,
        *,
        known: Mapping[str, str],
        known_quarantine: set[str],
        loaded_at: datetime,
        batch_rows: int,
    ) -> None:
        self.spec = spec
        self.known = known
        self.known_quarantine = known_quarantine
        self.loaded_at = loaded_at
        self.batch_rows = batch_rows
        self.counts = TableCounts()

    def process(self, table_input: TableInput) -> Iterator[tuple[str, pa.Table]]:
        """Yield ("rows", table) and ("quarantine", table) batches for one input.

        Raises InputError (before yielding anything) when a required column is missing.
        """
        spec = self.spec
        header = table_input.header
        missing = missing_columns(spec, header)
        if missing:
            raise InputError(
                f"misses the required column(s) {', '.join(missing)}: add them to its header"
            )
        self.counts.sources.append(table_input.source)
        extras = [name for name in header if spec.column(name) is None and name != spec.key_column]
        out_columns = [c.name for c in spec.columns] + extras
        rows: dict[str, list[Any]] = {name: [] for name in out_columns}
        hashes: list[str] = []
        keys: list[str] = []
        quarantine: list[tuple[str, int, str, str, str | None]] = []
        quarantined_any = False
        seen: dict[tuple[str, ...], int] = {}
        width = len(header)
        # A row's fingerprint covers every column, by name, whatever their order in the input.
        hash_order = sorted(header)
        hash_prefix = ",".join(hash_order)
        key_names = spec.key
        key_positions = [header.index(name) if name in header else None for name in key_names]
        for record in table_input.records:
            values = record.values
            if record.problem is not None:
                self._quarantine(
                    quarantine, table_input.source, record, record.problem, _row_key(values, key_positions)
                )
            elif len(values) != width:
                self._quarantine(
                    quarantine,
                    table_input.source,
                    record,
                    _width_reason(spec, header, values),
                    _row_key(values, key_positions),
                )
            else:
                row: dict[str, str | None] = {}
                for name, value in zip(header, values, strict=True):
                    clean = value.strip() if value is not None else None
                    row[name] = clean or None
                parsed, reasons = validate(spec, row)
                key = tuple(row.get(name) or "" for name in key_names)
                if not reasons and key in seen:
                    shown = ", ".join(f"{n}={v}" for n, v in zip(key_names, key, strict=True) if v)
                    reasons.append(f"duplicate key {shown} (the row at line {seen[key]} is kept)")
                if reasons:
                    self._quarantine(
                        quarantine,
                        table_input.source,
                        record,
                        "; ".join(reasons),
                        "|".join(key) if any(key) else None,
                    )
                else:
                    seen[key] = record.line
                    row_hash = fingerprint([hash_prefix, *(row[name] or "" for name in hash_order)])
                    key_text = "|".join(key)
                    previous = self.known.get(key_text)
                    if previous == row_hash:
                        self.counts.unchanged += 1
                    else:
                        if previous is None:
                            self.counts.new += 1
                        else:
                            self.counts.updated += 1
                        for name in out_columns:
                            rows[name].append(parsed[name] if name in parsed else row.get(name))
                        hashes.append(row_hash)
                        keys.append(key_text)
            if len(hashes) >= self.batch_rows:
                yield "rows", self._rows_table(rows, hashes, keys, table_input.source)
                rows = {name: [] for name in out_columns}
                hashes, keys = [], []
            if len(quarantine) >= self.batch_rows:
                yield "quarantine", self._quarantine_table(quarantine)
                quarantine, quarantined_any = [], True
        if hashes or (not self.known and not self.counts.new):
            # An input without a single valid row still creates its table on the first load.
            yield "rows", self._rows_table(rows, hashes, keys, table_input.source)
        if quarantine or not quarantined_any:
            # Even empty: the quarantine table exists (and has every column) after any load, so
            # staging reads clean books too.
            yield "quarantine", self._quarantine_table(quarantine)

    def _quarantine(
        self,
        batch: list[tuple[str, int, str, str, str | None]],
        source: str,
        record: RawRecord,
        reason: str,
        row_key: str | None,
    ) -> None:
        self.counts.quarantined += 1
        qid = quarantine_id(self.spec.name, source, record.line, record.raw)
        if qid in self.known_quarantine:
            return
        self.known_quarantine.add(qid)
        self.counts.new_quarantine += 1
        batch.append((source, record.line, record.raw, reason, row_key))

    def _rows_table(
        self, rows: dict[str, list[Any]], hashes: list[str], keys: list[str], source: str
    ) -> pa.Table:
        fields: list[pa.Field] = []
        arrays: list[pa.Array] = []

        def add(name: str, values: list[Any], kind: pa.DataType, nullable: bool) -> None:
            fields.append(pa.field(name, kind, nullable=nullable))
            arrays.append(pa.array(values, type=kind))

        for name, values in rows.items():
            column = self.spec.column(name)
            nullable = column is None or not column.required
            add(name, values, _arrow_type(column), nullable)
        if self.spec.key_column:
            add(self.spec.key_column, keys, pa.string(), False)
        count = len(hashes)
        add(FINGERPRINT_COLUMN, hashes, pa.string(), False)
        add(SOURCE_COLUMN, [source] * count, pa.string(), False)
        add(LOADED_AT_COLUMN, [self.loaded_at] * count, pa.timestamp("us", tz="UTC"), False)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def _quarantine_table(self, batch: list[tuple[str, int, str, str, str | None]]) -> pa.Table:
        table = self.spec.name
        return pa.Table.from_pylist(
            [
                {
                    "quarantine_id": quarantine_id(table, source, line, raw),
                    "table_name": table,
                    "source": source,
                    "line": line,
                    "raw": raw,
                    "reason": reason,
                    "row_key": row_key,
                    "quarantined_at": self.loaded_at,
                }
                for source, line, raw, reason, row_key in batch
            ],
            schema=QUARANTINE_SCHEMA,
        )
