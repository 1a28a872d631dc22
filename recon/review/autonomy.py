"""What the auto-accept policy does, measured: the autonomy page's figures.

From the warehouse (the marts as the last run left them), per type, rule and currency: the items,
those accepted without a person (a pair `auto_matched`, an exception without `requires_review`)
that no person has decided since (straight through), those in the queue, and the money accepted
straight through (integer minor units per currency, never added across currencies).

From the review store, the evidence of how often an auto-accepted item is wrong:
- the audit: a reproducible random sample of the straight-through items (ordered by the MD5 of
  a fixed salt and the item's id, so every visit shows the same items until they are audited);
  a controller marks each right or wrong (decisions of kind `audit`);
- reversals: a person rejecting a pair that was `auto_matched` when they rejected it, or
  resolving an exception that was auto-accepted (no review required) when they resolved it with
  another type or disposition than the machine's;
- per rule, every match decision in force: confirmed against rejected, with audits.
Rates come with their counts and a Wilson 95 % interval; no count, no rate.

Touched: an item with any match or exception decision in force (an audit is a look after the
fact, not a touch: an audited item stays straight through). An exception resolved in the team's
CSV decisions is neither accepted nor queued: a person closed it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.warehouse import schema
from recon.review.reads import Warehouse
from recon.review.store import NOTHING_SHOWN, AuditItem, Decision, InForce, Shown

AUDIT_SAMPLE_SIZE = 10
AUDIT_SALT = "recon-audit-v1|"
Z95 = 1.959963984540054
NOT_RECORDED = "(not recorded)"
AUTO_ACCEPTED = "auto_accepted"  # an exception's status when no review was required
REQUIRES_REVIEW = "requires_review"
EXCEPTION_RULES = "exception_rules"  # the "rule" of an exception the classifier did not type


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % by default); None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Rate:
    """`hits` of `trials` (an error rate: wrong of checked; a precision: confirmed of decided)."""

    hits: int
    trials: int

    @property
    def value(self) -> float | None:
        return self.hits / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.hits, self.trials)


@dataclass
class Line:
    """One type (or one rule of a type): its items and what the policy did with them."""

    kind: str
    item_type: str
    rule: str | None = None
    items: int = 0
    straight_through: int = 0
    queued: int = 0
    touched: int = 0
    money: dict[str, int] = field(default_factory=dict)  # currency -> minor units accepted straight through
    audit_right: int = 0
    audit_wrong: int = 0
    reversals: int = 0

    @property
    def straight_through_rate(self) -> Rate:
        return Rate(self.straight_through, self.items)

    @property
    def audit_error(self) -> Rate:
        return Rate(self.audit_wrong, self.audit_right + self.audit_wrong)


@dataclass(frozen=True)
class Scorecard:
    rule: str
    confirmed: int
    rejected: int
    audit_right: int
    audit_wrong: int

    @property
    def precision(self) -> Rate:
        return Rate(self.confirmed + self.audit_right, self.confirmed + self.rejected + self.audit_right + self.audit_wrong)


@dataclass(frozen=True)
class SampleItem:
    kind: str
    item_id: str
    item_type: str
    rule: str
    currency: str
    amount_minor: int
    confidence: Decimal | None
    stripe_object_id: str | None
    counterpart: str | None
    audit: AuditItem


@dataclass(frozen=True)
class Autonomy:
    per_type: list[Line]
    per_rule: list[Line]
    scorecard: list[Scorecard]
    sample: list[SampleItem]
    audited: int  # audits in force


def _items_sql() -> str:
    marts = schema("marts")
    return f"""
with items as (
    select
        'match' as kind,
        match_type as item_type,
        rule_name as rule,
        currency,
        stripe_amount_minor as amount_minor,
        status = 'auto_matched' as is_auto,
        status = 'suggested' as is_queued,
        match_id as item_id,
        stripe_object_id || '|' || coalesce(erp_payment_number, erp_journal_number, erp_document_number, '')
            as pair_key
    from {marts}.fct_reconciliation_matches
    union all
    select
        'exception',
        exception_type,
        coalesce(model_version, '{EXCEPTION_RULES}'),
        currency,
        amount_minor,
        not coalesce(requires_review, true) and not coalesce(is_resolved, false),
        coalesce(requires_review, true),
        exception_id,
        null
    from {marts}.fct_reconciliation_exceptions
),
marked as (
    select
        items.*,
        coalesce(items.pair_key in (select unnest(cast($touched_pairs as varchar[]))), false)
            or items.item_id in (select unnest(cast($touched_exceptions as varchar[]))) as is_touched
    from items
)
"""


def _figures_sql() -> str:
    return _items_sql() + """
select
    kind,
    item_type,
    rule,
    currency,
    count(*) as items,
    count(*) filter (where is_auto and not is_touched) as straight_through,
    count(*) filter (where is_queued and not is_touched) as queued,
    count(*) filter (where is_touched) as touched,
    coalesce(sum(amount_minor) filter (where is_auto and not is_touched), 0) as money_minor
from marked
group by kind, item_type, rule, currency
order by kind, item_type, rule, currency
"""


def _sample_sql() -> str:
    marts = schema("marts")
    return _items_sql() + f"""
select
    marked.kind,
    marked.item_id,
    marked.item_type,
    marked.rule,
    marked.currency,
    marked.amount_minor,
    coalesce(matches.confidence, exceptions.confidence) as confidence,
    coalesce(matches.stripe_object_id, exceptions.object_id) as stripe_object_id,
    matches.erp_document_number,
    matches.erp_payment_number,
    matches.erp_journal_number,
    exceptions.object_id
from marked
left join {marts}.fct_reconciliation_matches as matches
    on marked.kind = 'match' and marked.item_id = matches.match_id
left join {marts}.fct_reconciliation_exceptions as exceptions
    on marked.kind = 'exception' and marked.item_id = exceptions.exception_id
where marked.is_auto
    and not marked.is_touched
    and marked.item_id not in (select unnest(cast($audited as varchar[])))
order by md5($salt || marked.item_id), marked.item_id
limit $limit
"""


def measure(
    warehouse: Warehouse,
    forced: InForce,
    audits: Sequence[Decision],
    shown: dict[str, Shown],
    *,
    sample_size: int = AUDIT_SAMPLE_SIZE,
) -> Autonomy:
    """The autonomy page's figures. `forced`: the decisions in force; `audits`: the audit
    decisions in force (kind `audit`, not undone); `shown`: decision id -> what its page showed."""
    touched_pairs = [f"{stripe_id}|{item}" for stripe_id, item in forced.matches]
    touched_exceptions = list(forced.resolutions)
    audited_ids = [a.match_id or a.exception_id or "" for a in audits]
    binds: dict[str, Any] = {"touched_pairs": touched_pairs, "touched_exceptions": touched_exceptions}
    with warehouse.connect() as con:
        figures = con.rows(_figures_sql(), binds)
        sample_rows = con.rows(
            _sample_sql(), {**binds, "audited": audited_ids, "salt": AUDIT_SALT, "limit": sample_size}
        )

    per_type: dict[tuple[str, str], Line] = {}
    per_rule: dict[tuple[str, str, str], Line] = {}
    for kind, item_type, rule, currency, items, straight, queued, touched, money_minor in figures:
        for line in (
            per_type.setdefault((kind, item_type), Line(kind, item_type)),
            per_rule.setdefault((kind, item_type, rule), Line(kind, item_type, rule)),
        ):
            line.items += int(items)
            line.straight_through += int(straight)
            line.queued += int(queued)
            line.touched += int(touched)
            if int(straight):
                line.money[currency] = line.money.get(currency, 0) + int(money_minor)

    def lines_of(kind: str, item_type: str, rule: str | None) -> list[Line]:
        found = [per_type.setdefault((kind, item_type), Line(kind, item_type))]
        if rule:
            found.append(per_rule.setdefault((kind, item_type, rule), Line(kind, item_type, rule)))
        return found

    scores: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for audit in audits:
        rule = shown.get(audit.decision_id, NOTHING_SHOWN).rule_name
        kind = "match" if audit.match_id else "exception"
        item_type = audit.match_type if audit.match_id else audit.exception_type
        right = audit.action == "confirmed"
        for line in lines_of(kind, item_type or "", rule):
            if right:
                line.audit_right += 1
            else:
                line.audit_wrong += 1
        if kind == "match":
            scores[rule or NOT_RECORDED][2 if right else 3] += 1
    for decision in forced.matches.values():
        rule, status = shown.get(decision.decision_id, NOTHING_SHOWN)[:2]
        scores[rule or NOT_RECORDED][0 if decision.action == "confirmed" else 1] += 1
        if decision.action == "rejected" and status == "auto_matched":
            for line in lines_of("match", decision.match_type or "", rule):
                line.reversals += 1
    for decision in forced.resolutions.values():
        if is_exception_reversal(decision, shown.get(decision.decision_id, NOTHING_SHOWN)):
            seen = shown[decision.decision_id]
            # counted against the type (and classifier) that accepted it, not the person's type
            for line in lines_of("exception", seen.exception_type or "", seen.rule_name):
                line.reversals += 1

    sample = [
        SampleItem(
            kind=row[0], item_id=row[1], item_type=row[2], rule=row[3], currency=row[4], amount_minor=int(row[5]),
            confidence=row[6], stripe_object_id=row[7],
            counterpart=row[9] or row[10] or row[8],
            audit=(
                AuditItem(stripe_object_id=row[7], erp_document_number=row[8], erp_payment_number=row[9],
                          erp_journal_number=row[10], match_id=row[1], match_type=row[2], rule_name=row[3],
                          status="auto_matched")
                if row[0] == "match"
                else AuditItem(exception_id=row[1], object_id=row[11], exception_type=row[2], rule_name=row[3],
                               status=AUTO_ACCEPTED)
            ),
        )
        for row in sample_rows
    ]
    return Autonomy(
        per_type=sorted(per_type.values(), key=lambda line: (line.kind, line.item_type)),
        per_rule=sorted(per_rule.values(), key=lambda line: (line.kind, line.item_type, line.rule or "")),
        scorecard=[Scorecard(rule, *counts) for rule, counts in sorted(scores.items())],
        sample=sample,
        audited=len(audits),
    )


def is_exception_reversal(decision: Decision, seen: Shown) -> bool:
    """A resolution that reverses the machine: the exception was auto-accepted when the person
    resolved it, and they gave it another type or disposition than the machine had."""
    return seen.status == AUTO_ACCEPTED and (
        decision.exception_type != seen.exception_type or decision.disposition != seen.disposition
    )


def audits_in_force(rows: Sequence[Decision]) -> list[Decision]:
    """The audit decisions that count: not undone; per item the latest."""
    undone = {row.undoes for row in rows if row.action == "undone"}
    latest: dict[str, Decision] = {}
    for row in rows:
        if row.kind == "audit" and row.action != "undone" and row.decision_id not in undone:
            latest[row.match_id or row.exception_id or row.decision_id] = row
    return list(latest.values())
