"""What a run of the checks found, in words a person can act on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.currencies import exponents, to_major_string
from core.errors import ChecksFailedError, UserError

SHOWN_ROWS = 5


def money(minor: int | None, currency: str | None) -> str:
    """`1,234.56 USD` from integer minor units; minor units as such when the currency is unknown."""
    if minor is None:
        return "-"
    code = (currency or "").lower()
    if code in exponents():
        major = to_major_string(int(minor), code)
        sign, digits = ("-", major[1:]) if major.startswith("-") else ("", major)
        whole, _, decimals = digits.partition(".")
        return f"{sign}{int(whole):,}{'.' + decimals if decimals else ''} {code.upper()}"
    return f"{int(minor):,} minor units of {code.upper() or '?'}"


@dataclass(frozen=True)
class Violation:
    """One row that breaks an invariant."""

    object_id: str
    currency: str | None
    amount_minor: int | None
    at_stake_minor: int | None
    detail: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Violation:
        def whole(value: Any) -> int | None:
            return None if value is None else int(value)

        return cls(
            object_id=str(row.get("object_id")),
            currency=row.get("currency"),
            amount_minor=whole(row.get("amount_minor")),
            at_stake_minor=whole(row.get("at_stake_minor")),
            detail=str(row.get("detail") or ""),
        )


@dataclass(frozen=True)
class Failure:
    """An invariant that failed: its name, how many rows, the first rows and the amount at stake."""

    invariant: str
    suite: str
    description: str
    row_count: int
    rows: tuple[Violation, ...]
    at_stake_by_currency: Mapping[str, int]  # absolute amounts, per currency, over every row
    rows_by_currency: Mapping[str, int]
    complete: bool  # False when more rows broke it than Great Expectations returned
    severity: str = "critical"

    def render(self, shown: int = SHOWN_ROWS) -> str:
        lines = [f"FAILED  {self.invariant}  ({self.suite}): {self.row_count} row(s)"]
        lines.append(f"    {self.description}")
        if self.at_stake_by_currency:
            stake = ", ".join(money(v, c) for c, v in sorted(self.at_stake_by_currency.items()))
            lines.append(f"    at stake: {stake}" + ("" if self.complete else " (in the currencies shown)"))
        for row in self.rows[:shown]:
            lines.append(
                f"    - {row.object_id}  amount {money(row.amount_minor, row.currency)}"
                f"  at stake {money(row.at_stake_minor, row.currency)}  {row.detail}"
            )
        if self.row_count > shown:
            lines.append(f"    ... and {self.row_count - shown} more (see the report)")
        return "\n".join(lines)


@dataclass(frozen=True)
class Note:
    """Reported, never failing: an info-severity check's rows (quarantine counts) or a skip."""

    name: str
    text: str


@dataclass(frozen=True)
class NotRun:
    """An invariant that could not run: a table it reads is missing, or its query errored."""

    invariant: str
    suite: str
    reason: str


@dataclass
class CheckReport:
    """The result of `checks.run_checks`."""

    warehouse: str
    suites: tuple[str, ...]
    passed_checks: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    not_run: list[NotRun] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    report_path: Path | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True when every check ran and none failed."""
        return not self.failures and not self.not_run

    @property
    def marts_missing(self) -> bool:
        return any(n.suite == "marts" and "not built" in n.reason for n in self.not_run)

    def render(self) -> str:
        checked = len(self.passed_checks) + len(self.failures)
        head = (
            f"== checks on {self.warehouse} ({', '.join(self.suites)}): {len(self.passed_checks)} of "
            f"{checked} passed, {len(self.failures)} failed, {len(self.not_run)} could not run "
            f"({self.seconds:.1f} s)"
        )
        lines = [head]
        for failure in self.failures:
            lines.append(failure.render())
        if self.not_run:
            if self.marts_missing:
                lines.append(
                    "NOT RUN  the mart suite: the marts are not built in this warehouse "
                    "(run `dbt build` or `recon run` first)"
                )
            for item in self.not_run:
                if not (self.marts_missing and "not built" in item.reason):
                    lines.append(f"NOT RUN  {item.invariant} ({item.suite}): {item.reason}")
        for note in self.notes:
            lines.append(f"note     {note.name}: {note.text}")
        if self.report_path is not None:
            lines.append(f"report (Great Expectations Data Docs): {self.report_path}")
        return "\n".join(lines)

    def raise_for_status(self) -> None:
        """ChecksFailedError (exit 1) when a check failed; else UserError (exit 2) when one could not run."""
        where = f" Report: {self.report_path}" if self.report_path else ""
        if self.failures:
            names = "; ".join(f"{f.invariant} ({f.row_count} rows)" for f in self.failures)
            more = f" ({len(self.not_run)} more could not run)" if self.not_run else ""
            raise ChecksFailedError(f"{len(self.failures)} check(s) failed: {names}{more}.{where}")
        if self.not_run:
            if self.marts_missing:
                raise UserError(
                    "The mart checks could not run: the marts are not built in this warehouse; "
                    f"run `dbt build` (or `recon run`) first.{where}"
                )
            names = "; ".join(n.invariant for n in self.not_run)
            raise UserError(f"{len(self.not_run)} check(s) could not run: {names}.{where}")


def failure_from_rows(
    *,
    invariant: str,
    suite: str,
    description: str,
    row_count: int,
    rows: Sequence[Mapping[str, Any]],
    severity: str = "critical",
) -> Failure:
    """A Failure from the rows GX returned (the first 200, each carrying its currency's totals)."""
    violations = tuple(Violation.from_row(row) for row in rows)
    stake: dict[str, int] = {}
    counts: dict[str, int] = {}
    for row in rows:
        currency = row.get("currency") or "?"
        if row.get("currency_at_stake_minor") is not None:
            stake[currency] = int(row["currency_at_stake_minor"])
        if row.get("currency_rows") is not None:
            counts[currency] = int(row["currency_rows"])
    return Failure(
        invariant=invariant,
        suite=suite,
        description=description,
        row_count=row_count,
        rows=violations,
        at_stake_by_currency={c: v for c, v in stake.items() if v},
        rows_by_currency=counts,
        complete=sum(counts.values()) >= row_count,
        severity=severity,
    )
