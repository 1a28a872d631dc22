"""The summary a run prints: match rate, exceptions by type, amounts unreconciled, payouts, and
what the data's quality left aside: rows the loads quarantined and findings about the books.

Every figure is read from the marts (and the staging views for the totals and the quarantine)
after `dbt build`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from core.currencies import to_major_string
from core.settings import Settings
from core.warehouse import fetch_all, schema, tables_in


@dataclass
class Summary:
    """What the marts say, ready to print."""

    items: dict[str, int] = field(default_factory=dict)  # Stripe object kind -> how many
    matched: dict[str, int] = field(default_factory=dict)  # Stripe object kind -> how many matched
    exceptions: list[tuple[str, str, int, int]] = field(default_factory=list)  # type, disposition, n, to review
    unreconciled: dict[str, dict[str, int]] = field(default_factory=dict)  # currency -> disposition -> minor
    payouts: dict[str, int] = field(default_factory=dict)  # reconciliation status -> how many
    quarantined: dict[str, int] = field(default_factory=dict)  # source.table -> rows refused
    findings: dict[str, int] = field(default_factory=dict)  # data-quality issue kind -> how many
    # Inputs the last load could not read (allowed to be missing): source/table, why, last good load.
    stale: list[tuple[str, str, str]] = field(default_factory=list)
    # The three-way view, when bank statements were loaded: line status -> n, payout bank status -> n,
    # (bank exception type, disposition) -> n.
    bank_lines: dict[str, int] = field(default_factory=dict)
    bank_payouts: dict[str, int] = field(default_factory=dict)
    bank_exceptions: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def match_rate(self) -> float:
        total = sum(self.items.values())
        return sum(self.matched.values()) / total if total else 0.0

    def render(self) -> str:
        lines = [f"Match rate: {self.match_rate:.2%} of Stripe charges, refunds and payouts"]
        for kind, total in self.items.items():
            matched = self.matched.get(kind, 0)
            share = matched / total if total else 0.0
            lines.append(f"  {kind:<12}{matched:>10,} of {total:>10,} matched  {share:>8.2%}")
        total_exceptions = sum(n for _, _, n, _ in self.exceptions)
        to_review = sum(r for _, _, _, r in self.exceptions)
        lines.append(f"Exceptions: {total_exceptions:,} ({to_review:,} need a human)")
        width = max([22, *(len(t) + 2 for t, _, _, _ in self.exceptions)])
        for exception_type, disposition, count, review in self.exceptions:
            lines.append(f"  {exception_type:<{width}}{disposition:<20}{count:>8,}  ({review:,} to review)")
        lines.append("Amounts unreconciled (absolute, per currency):")
        for currency, by_disposition in sorted(self.unreconciled.items()):
            parts = ", ".join(
                f"{disposition} {to_major_string(amount, currency)}" for disposition, amount in sorted(by_disposition.items())
            )
            lines.append(f"  {currency.upper():<5}{parts}")
        lines.append(
            "Payouts: " + ", ".join(f"{status} {count:,}" for status, count in sorted(self.payouts.items()))
        )
        lines.append(
            f"Quarantined rows: {sum(self.quarantined.values()):,} (refused by the loads, with file, "
            "line and reason: raw_erp.quarantine, raw_decisions.quarantine, raw_stripe.quarantine, raw_bank.quarantine)"
        )
        for table, count in sorted(self.quarantined.items()):
            lines.append(f"  {table:<32}{count:>8,}")
        lines.append(
            f"Data quality findings: {sum(self.findings.values()):,} (the books' own state, one row "
            "each in marts.rpt_data_quality_issues)"
        )
        for kind, count in sorted(self.findings.items()):
            lines.append(f"  {kind:<32}{count:>8,}")
        if self.bank_lines:
            lines.append(
                f"Three-way (bank statements): {sum(self.bank_lines.values()):,} statement lines: "
                + ", ".join(f"{status} {n:,}" for status, n in sorted(self.bank_lines.items()))
            )
            lines.append(
                "  payouts by what the bank shows: "
                + ", ".join(f"{status} {n:,}" for status, n in sorted(self.bank_payouts.items()))
            )
            lines.append(f"  bank exceptions: {sum(self.bank_exceptions.values()):,} (marts.fct_bank_exceptions)")
            for (exception_type, disposition), n in sorted(self.bank_exceptions.items()):
                lines.append(f"  {exception_type:<30}{disposition:<20}{n:>8,}")
        if self.stale:
            lines.append(
                f"Stale books: {len(self.stale)} input(s) could not be read by the last load; "
                "the marts use their last good load"
            )
            for name, reason, last_good in self.stale:
                lines.append(f"  {name:<32}last good load {last_good}: {reason}")
        return "\n".join(lines)


def summarize(settings: Settings) -> Summary:
    marts, staging = schema("marts"), schema("staging")
    quarantines = _quarantine_tables(settings)
    queries = [
        f"""
        select 'charges', count(*) from {staging}.stg_stripe__charges where is_succeeded
        union all select 'refunds', count(*) from {staging}.stg_stripe__refunds
        union all select 'payouts', count(*) from {staging}.stg_stripe__payouts
        """,
        f"""
        select
            case match_type
                when 'charge_payment' then 'charges'
                when 'refund_payment' then 'refunds'
                when 'payout_deposit' then 'payouts'
            end as kind,
            count(distinct stripe_object_id)
        from {marts}.fct_reconciliation_matches
        where status <> 'rejected' and match_type in ('charge_payment', 'refund_payment', 'payout_deposit')
        group by 1
        """,
        f"""
        select exception_type, disposition, count(*), sum(case when requires_review then 1 else 0 end)
        from {marts}.fct_reconciliation_exceptions
        group by 1, 2
        order by 3 desc, 1
        """,
        # A pair that differs leaves its difference unreconciled; an item with no counterpart
        # leaves its whole amount.
        f"""
        select
            coalesce(difference_currency, currency),
            disposition,
            sum(case when difference_minor is not null then abs(difference_minor) else abs(amount_minor) end)
        from {marts}.fct_reconciliation_exceptions
        group by 1, 2
        """,
        f"select status, count(*) from {marts}.rpt_payout_reconciliation group by 1",
        " union all ".join(
            f"select '{name}.' || table_name, count(*) from {table} group by table_name"
            for name, table in quarantines
        ),
        f"select issue_kind, count(*) from {marts}.rpt_data_quality_issues group by 1",
        f"select status, count(*) from {marts}.rpt_bank_reconciliation group by 1",
        f"select bank_status, count(*) from {marts}.rpt_payout_reconciliation group by 1",
        f"select exception_type, disposition, count(*) from {marts}.fct_bank_exceptions group by 1, 2",
    ]
    queries += [_stale_query(name, table) for name, table in _load_logs(settings)]
    (items, matched, exceptions, amounts, payouts, quarantined, findings, bank_lines, bank_payouts, bank_exceptions,
     *logs) = fetch_all(settings, queries)
    unreconciled: dict[str, dict[str, int]] = defaultdict(dict)
    for currency, disposition, amount in amounts:
        unreconciled[str(currency)][str(disposition)] = int(amount or 0)
    return Summary(
        items={str(kind): int(n) for kind, n in items},
        matched={str(kind): int(n) for kind, n in matched},
        exceptions=[(str(t), str(d), int(n), int(r or 0)) for t, d, n, r in exceptions],
        unreconciled=dict(unreconciled),
        payouts={str(status): int(n) for status, n in payouts},
        quarantined={str(table): int(n) for table, n in quarantined},
        findings={str(kind): int(n) for kind, n in findings},
        bank_lines={str(status): int(n) for status, n in bank_lines},
        bank_payouts={str(status): int(n) for status, n in bank_payouts} if bank_lines else {},
        bank_exceptions={(str(t), str(d)): int(n) for t, d, n in bank_exceptions},
        stale=[
            (str(name), str(reason), f"{last:%Y-%m-%d %H:%M} UTC" if last is not None else "none")
            for rows in logs
            for name, reason, last in rows
        ],
    )


def _load_logs(settings: Settings) -> list[tuple[str, str]]:
    """(source, relation) of each load log the loads wrote (ingest.erp's `load_log`)."""
    names = {"erp": schema("raw_erp"), "decisions": schema("raw_decisions"), "bank": schema("raw_bank")}
    present = {found for found, table in tables_in(settings, list(names.values())) if table == "load_log"}
    return [(name, f"{relation}.load_log") for name, relation in names.items() if relation in present]


def _stale_query(name: str, relation: str) -> str:
    """The inputs whose latest load-log row says stale, with when they were last loaded."""
    return f"""
        select '{name}/' || latest.table_name, latest.reason, (
            select max(good.loaded_at) from {relation} as good
            where good.table_name = latest.table_name and good.status = 'loaded'
        )
        from {relation} as latest
        where latest.status = 'stale'
          and latest.loaded_at = (select max(l.loaded_at) from {relation} as l where l.table_name = latest.table_name)
        order by 1
    """


def _quarantine_tables(settings: Settings) -> list[tuple[str, str]]:
    """(source, relation) of each quarantine to count: the ERP's and Stripe's staging views
    (built by dbt) and the decisions' and the bank's raw tables when their loads created them."""
    staging = schema("staging")
    tables = [("erp", f"{staging}.stg_erp__quarantine"), ("stripe", f"{staging}.stg_stripe__quarantine")]
    raws = {name: schema(f"raw_{name}") for name in ("decisions", "bank")}
    present = tables_in(settings, list(raws.values()))
    for name, raw in raws.items():
        if (raw, "quarantine") in present:
            tables.append((name, f"{raw}.quarantine"))
    return tables
