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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from recon.currencies import exponents

ColumnKind = Literal["text", "amount", "date", "timestamp", "currency", "choice", "integer"]

# Columns every loaded row carries besides its own (see settings.py for their meaning).
FINGERPRINT_COLUMN = "_row_fingerprint"
SOURCE_COLUMN = "_source"
LOADED_AT_COLUMN = "_loaded_at"

# The decimal type amounts land as: exact, wide enough for any ERP total, with as many
# decimals as the currency seed's largest exponent (3: KWD, BHD, ...).
AMOUNT_PRECISION = 38

_AMOUNT_RE = re.compile(r"[+-]?\d+(\.\d*)?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_INTEGER_RE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an input table.

    `kind` decides how the text is checked and the type it lands as: amount (a decimal with a dot
    that fits the exponent of the row's `currency` column), date (YYYY-MM-DD), timestamp (ISO 8601
    with a zone, stored in UTC), currency (known to the seed, any case), choice (one of `choices`,
    any case), integer, text.
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
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    key_column: str | None = None
    one_of: tuple[str, ...] = ()
    optional_input: bool = False

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
    ordinal), its raw text and its values (None where absent)."""

    line: int
    raw: str
    values: Sequence[str | None]


@dataclass
class TableInput:
    """One input of a table: a named source, its header and its records."""

    source: str
    header: list[str]
    records: Iterator[RawRecord]


class InputError(Exception):
    """A whole input cannot be loaded (a required column missing, not UTF-8, ...)."""


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
    """A decimal with a dot, no thousands separator, no exponent: `1204.50`, `-3`, `0.125`."""
    if not _AMOUNT_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not a decimal number with a dot (like 1204.50)")
    try:
        return Decimal(text)
    except InvalidOperation as error:  # pragma: no cover - the regex already guards this
        raise ValueError(f"{text!r} is not a decimal number") from error


def fits_exponent(amount: Decimal, currency: str) -> bool:
    """True when `amount` is a whole number of the currency's minor units (trailing zeros are fine)."""
    scaled = amount.scaleb(exponents()[currency.lower()])
    return scaled == scaled.to_integral_value()


def parse_date(text: str) -> date:
    if not _DATE_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid date") from error


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with a zone (`2025-02-03T10:15:00Z`, `+00:00`), returned in UTC."""
    match = _TIMESTAMP_RE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not an ISO 8601 time like 2025-02-03T10:15:00Z")
    if not match.group("zone"):
        raise ValueError(f"{text!r} has no time zone: write times in UTC with a trailing Z")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid time") from error
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
        raise InputError(f"the header names column(s) {', '.join(duplicates)} more than once")
    return result


# ---------------------------------------------------------------------------------------------
# Reading inputs


def read_csv(path: Path) -> TableInput:
    """Open a CSV file: its header and a lazy iterator of records with their line and raw text.

    Blank lines are skipped (they hold no data). A file that is not UTF-8 raises InputError
    while iterating.
    """
    handle = path.open(newline="", encoding="utf-8-sig")
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in handle:
            consumed.append(line)
            yield line

    reader = csv.reader(lines())
    try:
        first = next(reader, None)
    except UnicodeDecodeError as error:
        handle.close()
        raise InputError("is not UTF-8 text") from error
    except csv.Error as error:
        handle.close()
        raise InputError(f"cannot be read as CSV ({error})") from error
    if first is None:
        handle.close()
        raise InputError("is empty: it needs a header line")
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
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError as error:
                    raise InputError(f"is not UTF-8 text (near line {start})") from error
                except csv.Error as error:
                    raise InputError(
                        f"cannot be read as CSV near line {start} ({error})"
                    ) from error
                raw = "".join(consumed).rstrip("\r\n")
                consumed.clear()
                line, start = start, reader.line_num + 1
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                yield RawRecord(line=line, raw=raw, values=values)
        finally:
            handle.close()

    return TableInput(source=path.name, header=header, records=records())


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
        if currency is not None and not fits_exponent(amount, currency):
            decimals = exponents()[currency.lower()]
            raise ValueError(
                f"{text} has more decimals than {currency.upper()} allows ({decimals})"
            )
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
        if text.lower() not in column.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(column.choices)}")
        return text
    if kind == "integer":
        if not _INTEGER_RE.fullmatch(text):
            raise ValueError(f"{text!r} is not a whole number")
        return int(text)
    return text


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
        missing = [name for name in spec.required if name not in header]
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
        quarantine: list[tuple[str, int, str, str]] = []
        seen: dict[tuple[str, ...], int] = {}
        width = len(header)
        # A row's fingerprint covers every column, by name, whatever their order in the input.
        hash_order = sorted(header)
        hash_prefix = ",".join(hash_order)
        key_names = spec.key
        for record in table_input.records:
            values = record.values
            if len(values) != width:
                self._quarantine(
                    quarantine,
                    table_input.source,
                    record,
                    f"the row has {len(values)} values, the header has {width}",
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
                    self._quarantine(quarantine, table_input.source, record, "; ".join(reasons))
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
                quarantine = []
        if hashes or (not self.known and not self.counts.new):
            # An input without a single valid row still creates its table on the first load.
            yield "rows", self._rows_table(rows, hashes, keys, table_input.source)
        if quarantine:
            yield "quarantine", self._quarantine_table(quarantine)

    def _quarantine(
        self,
        batch: list[tuple[str, int, str, str]],
        source: str,
        record: RawRecord,
        reason: str,
    ) -> None:
        self.counts.quarantined += 1
        qid = quarantine_id(self.spec.name, source, record.line, record.raw)
        if qid in self.known_quarantine:
            return
        self.known_quarantine.add(qid)
        self.counts.new_quarantine += 1
        batch.append((source, record.line, record.raw, reason))

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

    def _quarantine_table(self, batch: list[tuple[str, int, str, str]]) -> pa.Table:
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
                    "quarantined_at": self.loaded_at,
                }
                for source, line, raw, reason in batch
            ],
            schema=QUARANTINE_SCHEMA,
        )
