"""Pure parsers of bank statement files: BAI2 (the `bai2` library), ISO 20022 camt.053 (lxml,
validated against the published XSD of its version, ingest/bank/schemas/, then read by XPath on
the message's namespace) and a plain CSV export (date, amount, currency, description,
reference, balance).

Each parser turns one file into `ParsedFile`: its statements (account, currency, opening and
closing balances in minor units), their lines (signed amounts in minor units: a credit is
positive), and the lines it refused, each with its line in the file, its raw text and a reason.
A file that cannot be read as a statement at all raises `InputError` naming why. Nothing here
knows dlt.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bai2 import bai2 as bai2_parser
from bai2.constants import FundsType, RecordCode, TypeCodeTransaction
from bai2.exceptions import IntegrityException, NotSupportedYetException, ParsingException
from lxml import etree

from core.currencies import exponents, to_minor
from ingest.erp.helpers import InputError, escape_bytes, parse_amount, parse_date, read_csv

BAI2, CAMT053, CSV = "bai2", "camt053", "csv"
# Which parser reads a file, by its extension (any case).
FORMAT_OF_SUFFIX = {".bai": BAI2, ".bai2": BAI2, ".xml": CAMT053, ".csv": CSV}
CAMT053_NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053."
# The ISO 20022 schemas of the camt.053 versions banks send, as published (ingest/bank/schemas/).
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
# Schema errors told about one entry or file, at most.
SCHEMA_ERRORS_SHOWN = 3
# BAI2 summary codes of the ledger balances (opening, closing).
BAI2_OPENING, BAI2_CLOSING = "010", "015"
# A raw text shown in the quarantine is cut to this many characters.
RAW_MAX = 2000


@dataclass
class Statement:
    """One account's statement in one file."""

    statement_id: str
    account: str
    currency: str
    source: str
    file_format: str
    from_date: dt.date | None = None
    to_date: dt.date | None = None
    opening_balance_minor: int | None = None
    closing_balance_minor: int | None = None

    @property
    def statement_key(self) -> str:
        return f"{self.account}|{self.statement_id}"


@dataclass
class Line:
    """One statement line: money in (amount_minor > 0) or out (< 0) of the account."""

    statement: Statement
    position: int
    line: int
    amount_minor: int
    booking_date: dt.date | None
    value_date: dt.date | None
    bank_reference: str | None = None
    customer_reference: str | None = None
    end_to_end_id: str | None = None
    description: str | None = None
    type_code: str | None = None

    def row(self) -> dict[str, Any]:
        s = self.statement
        return {
            "line_id": f"{s.statement_key}|{self.position}",
            "statement_key": s.statement_key,
            "statement_id": s.statement_id,
            "account": s.account,
            "source": s.source,
            "file_format": s.file_format,
            "position": self.position,
            "line": self.line,
            "currency": s.currency,
            "amount_minor": self.amount_minor,
            "booking_date": self.booking_date,
            "value_date": self.value_date,
            "bank_reference": self.bank_reference,
            "customer_reference": self.customer_reference,
            "end_to_end_id": self.end_to_end_id,
            "description": self.description,
            "type_code": self.type_code,
        }


@dataclass(frozen=True)
class BadLine:
    """A line the parser refused: where it is, what it said, why."""

    source: str
    line: int
    raw: str
    reason: str
    # the statement it was part of, where the file says (a CSV row that cannot be read does not)
    statement_key: str | None = None


@dataclass
class ParsedFile:
    source: str
    file_format: str
    statements: list[Statement] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)


def file_format(path: Path) -> str | None:
    """The statement format a file is read as, by its extension; None for another file."""
    return FORMAT_OF_SUFFIX.get(path.suffix.lower())


def parse_file(path: Path) -> ParsedFile:
    """Parse one statement file by its format; InputError when it cannot be read at all."""
    kind = file_format(path)
    if kind == BAI2:
        return parse_bai2(path)
    if kind == CAMT053:
        return parse_camt053(path)
    if kind == CSV:
        return parse_csv(path)
    raise InputError("is not a statement file (.bai, .bai2, .xml or .csv)", source=path.name)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot be opened ({error.strerror or error})", source=path.name) from error
    if not data.strip():
        raise InputError("is empty", source=path.name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"is not UTF-8 text (byte 0x{data[error.start]:02X} at {error.start})", source=path.name) from error


def _currency(code: str | None) -> str | None:
    """The currency in lower case when the seed knows it, else None."""
    clean = (code or "").strip().lower()
    return clean if clean in exponents() else None


def _clean(text: Any) -> str | None:
    value = str(text).strip() if text is not None else ""
    return value or None


# ---------------------------------------------------------------------------------------------
# BAI2


def parse_bai2(path: Path) -> ParsedFile:
    """A BAI2 file: one statement per account of each group (as-of date, currency), its lines the
    account's transaction details (16 records). Amounts are whole minor units as BAI2 writes
    them; a credit type code adds, a debit subtracts; a detail whose type is neither is refused."""
    text = _read_text(path)
    numbered = [(n, line.rstrip("\r").strip()) for n, line in enumerate(text.split("\n"), start=1)]
    numbered = [(n, line) for n, line in numbered if line]
    try:
        parsed = bai2_parser.parse_from_lines([line for _, line in numbered], check_integrity=True)
    except (ParsingException, NotSupportedYetException, IntegrityException, ValueError, KeyError,
            IndexError, StopIteration) as error:
        raise InputError(f"is not a BAI2 file the bai2 library can read ({error or type(error).__name__})",
                         source=path.name) from error
    out = ParsedFile(source=path.name, file_format=BAI2)
    offset = _own_rows(parsed.header)
    file_id = parsed.header.file_id or path.stem
    for group in parsed.children:
        offset += _own_rows(group.header)
        for account in group.children:
            ident = account.header
            currency_code = ident.currency or group.header.currency
            currency = _currency(currency_code)
            as_of = group.header.as_of_date
            statement = Statement(
                statement_id=f"{file_id}-{as_of:%Y%m%d}" if as_of else str(file_id),
                account=str(ident.customer_account_number or "").strip(),
                currency=currency or (currency_code or "").lower(),
                source=path.name,
                file_format=BAI2,
                from_date=as_of,
                to_date=as_of,
            )
            for summary in ident.summary_items:
                code = summary.type_code.code if summary.type_code else None
                if code == BAI2_OPENING:
                    statement.opening_balance_minor = summary.amount
                elif code == BAI2_CLOSING:
                    statement.closing_balance_minor = summary.amount
            out.statements.append(statement)
            offset += _own_rows(ident)
            for position, detail in enumerate(account.children, start=1):
                line_no = numbered[offset][0]
                size = _own_rows(detail)
                raw = "\n".join(line for _, line in numbered[offset:offset + size])
                offset += size
                reason = _bai2_refusal(detail, currency, currency_code)
                if reason:
                    out.bad.append(BadLine(path.name, line_no, raw[:RAW_MAX], reason, statement.statement_key))
                    continue
                sign = 1 if detail.type_code.transaction == TypeCodeTransaction.credit else -1
                value_date = as_of
                if detail.funds_type == FundsType.value_dated and detail.availability:
                    value_date = detail.availability.get("date") or as_of
                out.lines.append(Line(
                    statement=statement,
                    position=position,
                    line=line_no,
                    amount_minor=sign * int(detail.amount),
                    booking_date=as_of,
                    value_date=value_date,
                    bank_reference=_clean(detail.bank_reference),
                    customer_reference=_clean(detail.customer_reference),
                    description=_clean(detail.text),
                    type_code=detail.type_code.code,
                ))
            offset += _own_rows(account.trailer)
        offset += _own_rows(group.trailer)
    return out


def _own_rows(record: Any) -> int:
    """How many physical lines one BAI2 record took: its own and its continuations (88). The
    library's section validation appends its children's rows to a header's `rows`, so they are
    counted, not taken by length."""
    rows = record.rows
    count = 1
    while count < len(rows) and rows[count][0] == RecordCode.continuation:
        count += 1
    return count


def _bai2_refusal(detail: Any, currency: str | None, currency_code: str | None) -> str | None:
    if currency is None:
        return f"the account's currency {currency_code!r} is not a known ISO 4217 currency"
    if detail.amount is None:
        return "the transaction detail has no amount"
    kind = detail.type_code.transaction
    if kind not in (TypeCodeTransaction.credit, TypeCodeTransaction.debit):
        return (f"type code {detail.type_code.code} ({detail.type_code.description}) is neither a "
                "credit nor a debit, so its sign is unknown")
    return None


# ---------------------------------------------------------------------------------------------
# camt.053


def parse_camt053(path: Path) -> ParsedFile:
    """An ISO 20022 camt.053 (bank-to-customer statement) file, any version 001.xx: one
    statement per `Stmt`, its lines the `Ntry` elements, read by XPath on the message's own
    namespace. Balances OPBD (or PRCD) and CLBD; a DBIT amount is negative."""
    text = _read_text(path)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        raise InputError(f"is not well-formed XML ({error})", source=path.name) from error
    namespace = etree.QName(root).namespace or ""
    if not namespace.startswith(CAMT053_NAMESPACE_PREFIX):
        raise InputError(
            f"is not a camt.053 statement (its namespace is {namespace or 'none'!r}, not {CAMT053_NAMESPACE_PREFIX}...)",
            source=path.name,
        )
    ns = {"c": namespace}
    refused = _camt_schema_refusals(root, namespace, path.name)

    def first(node: Any, xpath: str) -> str | None:
        found = node.xpath(xpath, namespaces=ns)
        return _clean(found[0]) if found else None

    out = ParsedFile(source=path.name, file_format=CAMT053)
    position = 0
    statements = root.xpath("c:BkToCstmrStmt/c:Stmt", namespaces=ns)
    if not statements:
        raise InputError("holds no statement (no BkToCstmrStmt/Stmt element)", source=path.name)
    for stmt in statements:
        account = first(stmt, "c:Acct/c:Id/c:IBAN/text()") or first(stmt, "c:Acct/c:Id/c:Othr/c:Id/text()") or ""
        currency_code = first(stmt, "c:Acct/c:Ccy/text()") or first(stmt, "c:Bal[1]/c:Amt/@Ccy")
        currency = _currency(currency_code)
        statement = Statement(
            statement_id=first(stmt, "c:Id/text()") or f"{path.stem}-{stmt.sourceline}",
            account=account,
            currency=currency or (currency_code or "").lower(),
            source=path.name,
            file_format=CAMT053,
            from_date=_date_or_none(first(stmt, "c:FrToDt/c:FrDtTm/text()")),
            to_date=_date_or_none(first(stmt, "c:FrToDt/c:ToDtTm/text()")),
        )
        for balance in stmt.xpath("c:Bal", namespaces=ns):
            code = first(balance, "c:Tp/c:CdOrPrtry/c:Cd/text()")
            amount = _camt_amount(first(balance, "c:Amt/text()"), first(balance, "c:CdtDbtInd/text()"), currency)
            if code in ("OPBD", "PRCD") and statement.opening_balance_minor is None:
                statement.opening_balance_minor = amount
            elif code == "CLBD":
                statement.closing_balance_minor = amount
        out.statements.append(statement)
        for entry in stmt.xpath("c:Ntry", namespaces=ns):
            position += 1
            raw = etree.tostring(entry, encoding="unicode", with_tail=False)
            entry_currency = first(entry, "c:Amt/@Ccy")
            try:
                if entry in refused:
                    raise ValueError(refused[entry])
                if currency is None:
                    raise ValueError(f"the statement's currency {currency_code!r} is not a known ISO 4217 currency")
                if entry_currency is not None and entry_currency.lower() != currency:
                    raise ValueError(f"the entry is in {entry_currency}, its statement in {currency.upper()}")
                amount_minor = _camt_amount(first(entry, "c:Amt/text()"), first(entry, "c:CdtDbtInd/text()"), currency,
                                            strict=True)
                booking = _date_or_none(first(entry, "c:BookgDt/c:Dt/text()") or first(entry, "c:BookgDt/c:DtTm/text()"))
                value = _date_or_none(first(entry, "c:ValDt/c:Dt/text()") or first(entry, "c:ValDt/c:DtTm/text()"))
                if booking is None and value is None:
                    raise ValueError("the entry has neither a booking date nor a value date")
            except ValueError as error:
                out.bad.append(BadLine(path.name, entry.sourceline or 0, raw[:RAW_MAX], str(error),
                                       statement.statement_key))
                continue
            texts = [first(entry, ".//c:RmtInf/c:Ustrd/text()"), first(entry, "c:AddtlNtryInf/text()")]
            assert amount_minor is not None
            out.lines.append(Line(
                statement=statement,
                position=position,
                line=entry.sourceline or 0,
                amount_minor=amount_minor,
                booking_date=booking or value,
                value_date=value or booking,
                bank_reference=first(entry, "c:AcctSvcrRef/text()") or first(entry, ".//c:Refs/c:AcctSvcrRef/text()"),
                customer_reference=first(entry, ".//c:Refs/c:InstrId/text()"),
                end_to_end_id=first(entry, ".//c:Refs/c:EndToEndId/text()"),
                description=" | ".join(t for t in texts if t) or None,
                type_code=first(entry, "c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd/text()")
                or first(entry, "c:BkTxCd/c:Prtry/c:Cd/text()"),
            ))
    return out


@functools.cache
def camt053_schema(version: str) -> etree.XMLSchema | None:
    """The published XSD of camt.053 `version` (`001.02`), compiled once; None when the project
    holds no schema of that version."""
    path = SCHEMAS_DIR / f"camt.053.{version}.xsd"
    if not path.is_file():
        return None
    return etree.XMLSchema(etree.parse(str(path), parser=etree.XMLParser(resolve_entities=False, no_network=True)))


def camt053_versions() -> list[str]:
    """The camt.053 versions whose schema the project holds."""
    return sorted(p.name.removeprefix("camt.053.").removesuffix(".xsd") for p in SCHEMAS_DIR.glob("camt.053.*.xsd"))


def _camt_schema_refusals(root: Any, namespace: str, source: str) -> dict[Any, str]:
    """Validate a camt.053 document against its version's published schema. Every error inside
    an entry (`Ntry`) refuses that entry (entry -> reason: it is quarantined, its statement
    counts it); an error anywhere else (the header, a statement, a balance), or a version the
    project has no schema of, refuses the file: InputError."""
    version = namespace.removeprefix(CAMT053_NAMESPACE_PREFIX)
    schema = camt053_schema(version)
    if schema is None:
        raise InputError(
            f"is camt.053.{version}, a version this project holds no schema of (it holds "
            f"{', '.join(camt053_versions())} in ingest/bank/schemas/): add the version's published XSD there",
            source=source,
        )
    if schema.validate(root):
        return {}
    entry_tag = f"{{{namespace}}}Ntry"
    by_entry: dict[Any, list[str]] = {}
    elsewhere: list[str] = []
    tree = root.getroottree()
    for error in schema.error_log:
        found = tree.xpath(error.path) if error.path else []
        node = found[0] if found else None
        entry = next((n for n in ([node, *node.iterancestors()] if node is not None else []) if n.tag == entry_tag), None)
        message = f"line {error.line}: {_short_schema_message(error.message, namespace)}"
        if entry is None:
            elsewhere.append(message)
        else:
            by_entry.setdefault(entry, []).append(message)
    if elsewhere:
        raise InputError(
            f"does not follow the camt.053.{version} schema outside its entries ("
            + "; ".join(elsewhere[:SCHEMA_ERRORS_SHOWN]) + (" ..." if len(elsewhere) > SCHEMA_ERRORS_SHOWN else "") + ")",
            source=source,
        )
    return {
        entry: f"the entry does not follow the camt.053.{version} schema: " + "; ".join(messages[:SCHEMA_ERRORS_SHOWN])
        for entry, messages in by_entry.items()
    }


def _short_schema_message(message: str, namespace: str) -> str:
    """libxml2's message without the namespace spelled out at every element name."""
    return message.replace("{" + namespace + "}", "")


def _date_or_none(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return parse_date(text)
    except ValueError:
        return None


def _camt_amount(text: str | None, indicator: str | None, currency: str | None, *, strict: bool = False) -> int | None:
    """A camt amount (always positive, its sign in CdtDbtInd) in signed minor units."""
    try:
        if text is None:
            raise ValueError("the amount is missing")
        if indicator not in ("CRDT", "DBIT"):
            raise ValueError(f"CdtDbtInd is {indicator!r}, neither CRDT nor DBIT")
        if currency is None:
            raise ValueError("the currency is unknown")
        minor = to_minor(parse_amount(text), currency)
    except ValueError:
        if strict:
            raise
        return None
    return minor if indicator == "CRDT" else -minor


# ---------------------------------------------------------------------------------------------
# CSV


CSV_REQUIRED = ("date", "amount", "currency")


def parse_csv(path: Path) -> ParsedFile:
    """A plain CSV export: `date, amount, currency, description, reference, balance` (signed
    amounts, a dot for decimals; `balance` the running balance after the line; optional
    `account`, `value_date`, `bank_reference`). One statement per currency of the file, its id
    the file's name; the opening balance is the first line's balance before it, the closing the
    last line's balance after it."""
    try:
        table = read_csv(path)
    except InputError as error:
        raise InputError(str(error), source=path.name) from error
    except OSError as error:
        raise InputError(f"cannot be opened ({error.strerror or error})", source=path.name) from error
    missing = [name for name in CSV_REQUIRED if name not in table.header]
    if missing:
        table.close()
        raise InputError(f"misses the required column(s) {', '.join(missing)} in its header", source=path.name)
    out = ParsedFile(source=path.name, file_format=CSV)
    by_currency: dict[str, Statement] = {}
    positions: dict[str, int] = {}
    last_balance: dict[str, int] = {}
    for record in table.records:
        raw = escape_bytes(record.raw)[:RAW_MAX]
        if record.problem is not None:
            out.bad.append(BadLine(path.name, record.line, raw, record.problem))
            continue
        if len(record.values) != len(table.header):
            out.bad.append(BadLine(path.name, record.line, raw,
                                   f"the row has {len(record.values)} values, the header has {len(table.header)}"))
            continue
        row = {name: _clean(value) for name, value in zip(table.header, record.values, strict=True)}
        try:
            currency = _currency(row.get("currency"))
            if currency is None:
                raise ValueError(f"currency {row.get('currency')!r} is not a known ISO 4217 currency")
            amount = to_minor(parse_amount(row.get("amount") or ""), currency)
            day = parse_date(row.get("date") or "")
            value_day = parse_date(row.get("value_date") or "") if row.get("value_date") else day
            balance = to_minor(parse_amount(row.get("balance") or ""), currency) if row.get("balance") else None
        except ValueError as error:
            out.bad.append(BadLine(path.name, record.line, raw, str(error)))
            continue
        statement = by_currency.get(currency)
        if statement is None:
            statement = Statement(
                statement_id=path.stem if not by_currency else f"{path.stem}-{currency}",
                account=row.get("account") or path.stem,
                currency=currency,
                source=path.name,
                file_format=CSV,
                opening_balance_minor=balance - amount if balance is not None else None,
            )
            by_currency[currency] = statement
            out.statements.append(statement)
        statement.from_date = min(statement.from_date or day, day)
        statement.to_date = max(statement.to_date or day, day)
        if balance is not None:
            last_balance[currency] = balance
        positions[currency] = positions.get(currency, 0) + 1
        out.lines.append(Line(
            statement=statement,
            position=positions[currency],
            line=record.line,
            amount_minor=amount,
            booking_date=day,
            value_date=value_day,
            bank_reference=row.get("bank_reference"),
            customer_reference=row.get("reference"),
            description=row.get("description"),
        ))
    for currency, statement in by_currency.items():
        statement.closing_balance_minor = last_balance.get(currency)
    return out


__all__ = [
    "BAI2",
    "CAMT053",
    "CSV",
    "BadLine",
    "Line",
    "ParsedFile",
    "Statement",
    "camt053_schema",
    "camt053_versions",
    "file_format",
    "parse_bai2",
    "parse_camt053",
    "parse_csv",
    "parse_file",
]
