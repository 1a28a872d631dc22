"""The bank's statements of the demo world: `bank/`, one statement per business day of the USD
account that Stripe pays out to, in the three formats banks send (BAI2, camt.053, CSV, by ISO week
in turn), and their truth (`truth/bank_lines.csv`, `truth/bank_exceptions.csv`).

Written at the end from the payouts as written (stripe/payouts.jsonl, truth/payouts.csv) and a
random stream of its own, so the statements change no other byte of a world. The messes banks
make: a payout split across two credits, the failed payout credited and returned the next day, a
bank fee taken off a payout (the `variance` payouts whose deposit the ERP booked net of a bank
fee), a statement spanning two days, a paid payout the bank never shows, a Stripe credit no
payout explains, and the account's other traffic (rent, wires from customers).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from random import Random

from lxml import etree

from demoworld.context import WorldContext
from demoworld.csv_sinks import fmt_major

ACCOUNT = "000123456789"
IBAN = "US00DEMO000123456789"
CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
FORMATS = ("bai2", "camt053", "csv")
OPENING_BALANCE = 25_000_000


@dataclass
class BankLine:
    day: dt.date
    amount: int
    text: str
    reference: str = ""
    payout_id: str = ""
    journal: str = ""
    status: str = "not_stripe"
    type_code: str = "165"


def write_bank(ctx: WorldContext) -> None:
    """Write bank/ and its truth for a world whose other files are written and closed."""
    rng = Random(f"bank-{ctx.spec.seed}")
    out = ctx.out
    payouts = [json.loads(line) for line in (out / "stripe" / "payouts.jsonl").read_text().splitlines() if line]
    with (out / "truth" / "payouts.csv").open(newline="", encoding="utf-8") as handle:
        truth = {row["payout_id"]: row for row in csv.DictReader(handle)}
    fees = {a.object_id: -(a.difference_minor or 0) for a in ctx.anomalies if a.note.startswith("bank fee")}
    arrived = sorted((p for p in payouts if p["status"] in ("paid", "failed")), key=lambda p: (p["arrival_date"], p["id"]))
    paid = [p for p in arrived if p["status"] == "paid" and truth[p["id"]]["expected_recon_status"] == "reconciled"]
    split = paid[len(paid) // 3]["id"] if paid else ""
    missing = paid[len(paid) // 2]["id"] if len(paid) > 2 else ""
    if not fees and len(paid) > 3:
        # no deposit the ERP booked net of a bank fee: the bank takes one off a payout all the same
        # (the ERP then booked the full amount, and only the statement shows the fee)
        fees[paid[len(paid) * 3 // 4]["id"]] = rng.choice((1000, 1500, 2000, 2500, 3000))
    lines: list[BankLine] = []
    exceptions: list[tuple[str, str]] = []
    for p in arrived:
        po, amount = p["id"], p["amount"]
        day = dt.datetime.fromtimestamp(p["arrival_date"], dt.UTC).date()
        journal = truth[po]["erp_journal_number"]
        if po == missing:
            exceptions += [(po, "payout_not_received_by_bank"), (journal, "deposit_not_on_bank_statement")]
            continue
        # a payout the bank took a fee off always names itself (nothing else could pair it)
        reference = po if rng.random() < 0.8 or po in fees else ""
        status = "reconciled" if journal else "no_erp_deposit"
        credited = amount - fees.get(po, 0)
        if po in fees:
            exceptions.append((po, "bank_fee_on_payout"))
        if po == split:
            part = rng.randint(amount // 4, amount // 2)
            lines.append(BankLine(day, part, "STRIPE TRANSFER 1/2", po, po, journal, status))
            lines.append(BankLine(day, amount - part, "STRIPE TRANSFER 2/2", po, po, journal, status))
            continue
        lines.append(BankLine(day, credited, "STRIPE TRANSFER", reference, po, journal, status))
        if p["status"] == "failed":
            back = _next_business_day(day)
            lines.append(BankLine(back, -amount, "RETURN STRIPE TRANSFER ACCOUNT CLOSED", po, po, "",
                                  "payout_returned", "555"))
    days = sorted({line.day for line in lines})
    if days:
        odd_day = days[len(days) * 2 // 3]
        lines.append(BankLine(odd_day, rng.randint(5_000, 90_000), "STRIPE TRANSFER", "", "", "",
                              "unexplained_stripe_credit"))
        exceptions.append(("", "unexplained_bank_credit"))
    for day in days[:: 3]:
        if rng.random() < 0.5:
            lines.append(BankLine(day, -rng.randint(100_000, 400_000), "RENT OFFICE", "", type_code="495"))
        else:
            lines.append(BankLine(day, rng.randint(10_000, 300_000), f"WIRE FROM CUSTOMER {rng.randint(1000, 9999)}",
                                  "", type_code="195"))
    _write_statements(ctx, sorted(lines, key=lambda line: line.day), days, exceptions)


def _next_business_day(day: dt.date) -> dt.date:
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _write_statements(
    ctx: WorldContext, lines: list[BankLine], days: list[dt.date], exceptions: list[tuple[str, str]]
) -> None:
    folder = ctx.out / "bank"
    folder.mkdir(parents=True, exist_ok=True)
    by_day: dict[dt.date, list[BankLine]] = {}
    for line in lines:
        by_day.setdefault(line.day, []).append(line)
    statement_days = sorted(by_day)
    # one statement spans two days: the middle one takes the next day's lines too
    groups: list[list[dt.date]] = [[d] for d in statement_days]
    if len(groups) > 3:
        middle = len(groups) // 2
        groups[middle : middle + 2] = [groups[middle] + groups[middle + 1]]
    balance = OPENING_BALANCE
    truth_rows: list[list[str]] = []
    for group in groups:
        statement_lines = [line for d in group for line in by_day[d]]
        # a statement of two days is a camt.053 (BAI2 has one as-of date per group)
        kind = FORMATS[group[0].isocalendar().week % 3] if len(group) == 1 else "camt053"
        opening, closing = balance, balance + sum(line.amount for line in statement_lines)
        balance = closing
        stem = f"{group[0]:%Y%m%d}"
        name = {"bai2": f"{stem}.bai", "camt053": f"{stem}.xml", "csv": f"{stem}.csv"}[kind]
        statement_id = {"bai2": f"F{stem}-{group[0]:%Y%m%d}", "camt053": f"STMT-{stem}", "csv": stem}[kind]
        writer = {"bai2": _bai2, "camt053": _camt053, "csv": _csv}[kind]
        writer(folder / name, group, statement_lines, opening, closing)
        for position, line in enumerate(statement_lines, start=1):
            truth_rows.append([name, statement_id, str(position), str(line.amount), line.payout_id, line.journal,
                               line.status])
            if line.status == "unexplained_stripe_credit":
                account = IBAN if kind == "camt053" else ACCOUNT if kind == "bai2" else stem
                line_id = f"{account}|{statement_id}|{position}"
                exceptions = [(line_id, t) if t == "unexplained_bank_credit" else (o, t) for o, t in exceptions]
    with (ctx.out / "truth" / "bank_lines.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["file", "statement_id", "position", "amount_minor", "payout_id", "erp_journal_number", "status"])
        out.writerows(truth_rows)
    with (ctx.out / "truth" / "bank_exceptions.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["object_id", "exception_type"])
        out.writerows(sorted(exceptions))


def _bai2(path: Path, group: list[dt.date], lines: list[BankLine], opening: int, closing: int) -> None:
    day = group[0]
    details = [
        f"16,{line.type_code},{abs(line.amount)},Z,BR{day:%y%m%d}{i:04d},{line.reference},{line.text}/"
        for i, line in enumerate(lines, start=1)
    ]
    account_total = opening + closing + sum(abs(line.amount) for line in lines)
    account_records = len(details) + 2
    rows = [
        f"01,DEMOBANK,DEMOCO,{day:%y%m%d},0600,F{day:%Y%m%d},,,2/",
        f"02,DEMOCO,DEMOBANK,1,{day:%y%m%d},2359,USD,2/",
        f"03,{ACCOUNT},USD,010,{opening},,,015,{closing},,/",
        *details,
        f"49,{account_total},{account_records}/",
        f"98,{account_total},1,{account_records + 2}/",
        f"99,{account_total},1,{account_records + 4}/",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _camt053(path: Path, group: list[dt.date], lines: list[BankLine], opening: int, closing: int) -> None:
    def el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        node = etree.SubElement(parent, f"{{{CAMT_NS}}}{tag}", **attrs)
        if text is not None:
            node.text = text
        return node

    def amount(parent: etree._Element, minor: int) -> None:
        el(parent, "Amt", fmt_major(abs(minor), "usd"), Ccy="USD")
        el(parent, "CdtDbtInd", "CRDT" if minor >= 0 else "DBIT")

    root = etree.Element(f"{{{CAMT_NS}}}Document", nsmap={None: CAMT_NS})
    stmt_root = el(root, "BkToCstmrStmt")
    header = el(stmt_root, "GrpHdr")
    el(header, "MsgId", f"MSG{group[0]:%Y%m%d}")
    el(header, "CreDtTm", f"{group[-1]}T23:59:00")
    stmt = el(stmt_root, "Stmt")
    el(stmt, "Id", f"STMT-{group[0]:%Y%m%d}")
    el(stmt, "CreDtTm", f"{group[-1]}T23:59:00")
    period = el(stmt, "FrToDt")
    el(period, "FrDtTm", f"{group[0]}T00:00:00")
    el(period, "ToDtTm", f"{group[-1]}T23:59:59")
    account = el(stmt, "Acct")
    el(el(account, "Id"), "IBAN", IBAN)
    el(account, "Ccy", "USD")
    for code, value, day in (("OPBD", opening, group[0]), ("CLBD", closing, group[-1])):
        bal = el(stmt, "Bal")
        el(el(el(bal, "Tp"), "CdOrPrtry"), "Cd", code)
        amount(bal, value)
        el(el(bal, "Dt"), "Dt", str(day))
    for i, line in enumerate(lines, start=1):
        entry = el(stmt, "Ntry")
        amount(entry, line.amount)
        el(entry, "Sts", "BOOK")
        el(el(entry, "BookgDt"), "Dt", str(line.day))
        el(el(entry, "ValDt"), "Dt", str(line.day))
        el(entry, "AcctSvcrRef", f"BR{line.day:%y%m%d}{i:04d}")
        # the ISO bank transaction code (a received or issued ACH credit transfer), required by
        # the schema, and the BAI2 code the bank also uses
        code = el(entry, "BkTxCd")
        domain = el(code, "Domn")
        el(domain, "Cd", "PMNT")
        family = el(domain, "Fmly")
        el(family, "Cd", "RCDT" if line.amount >= 0 else "ICDT")
        el(family, "SubFmlyCd", "ACDT")
        proprietary = el(code, "Prtry")
        el(proprietary, "Cd", line.type_code)
        el(proprietary, "Issr", "BAI")
        details = el(el(entry, "NtryDtls"), "TxDtls")
        if line.reference:
            el(el(details, "Refs"), "EndToEndId", line.reference)
        el(el(details, "RmtInf"), "Ustrd", line.text)
        el(entry, "AddtlNtryInf", line.text)
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _csv(path: Path, group: list[dt.date], lines: list[BankLine], opening: int, closing: int) -> None:
    balance = opening
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["date", "amount", "currency", "description", "reference", "balance"])
        for line in lines:
            balance += line.amount
            sign = "-" if line.amount < 0 else ""
            out.writerow([str(line.day), sign + fmt_major(abs(line.amount), "usd"), "USD", line.text, line.reference,
                          fmt_major(balance, "usd")])
