"""The truth and the analysts' decisions, written when the days have run: truth/anomalies.csv,
truth/bad_rows.csv, truth/anomaly_related.csv, decisions/exception_resolutions.csv and
decisions/match_decisions.csv (the closed periods only), and manifest.json.

(The truth written while the days run, matches and payouts, goes through `WorldContext`'s
sinks; the other truth files through `truth_extras.TruthExtras`.)
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from random import Random

from core.vocabulary import DISPOSITION_OF_TYPE
from demoworld.context import WorldContext, add_months, day_of
from demoworld.csv_sinks import CsvSink
from demoworld.stripe_objects import API_VERSION

FORMAT_VERSION = 4  # 2: camt.053 entries carry BkTxCd, as the schema requires; 3: payment methods besides cards;
# 4: the ERP reverses half the returned debits

# exception_type -> disposition (docs/contract.md section 5)
DISPOSITIONS = DISPOSITION_OF_TYPE

_ANALYSTS = ("a.kowalski", "m.tanaka", "j.oconnor", "s.dubois", "r.patel")


def write_truth(ctx: WorldContext, bad_rows: list[tuple[str, int, str]]) -> None:
    """Everything written at the end: the anomalies, the bad rows, the decisions, the manifest."""
    for a in ctx.anomalies:
        ctx.extra.related_ids(a.object_id, a.exception_type, a.related)
    with CsvSink(
        ctx.out / "truth" / "anomalies.csv",
        [
            "object_id",
            "side",
            "exception_type",
            "disposition",
            "currency",
            "amount_minor",
            "period",
            "note",
            "difference_minor",
        ],
    ) as sink:
        for a in ctx.anomalies:
            sink.write(
                [
                    a.object_id,
                    a.side,
                    a.exception_type,
                    DISPOSITIONS[a.exception_type],
                    a.currency,
                    str(a.amount_minor),
                    a.period,
                    a.note,
                    "" if a.difference_minor is None else str(a.difference_minor),
                ]
            )
    with CsvSink(ctx.out / "truth" / "bad_rows.csv", ["file", "line", "reason"]) as sink:
        for name, line, reason in bad_rows:
            sink.write([name, str(line), reason])
    _write_decisions(ctx)
    ctx.extra.close()
    _write_manifest(ctx, len(bad_rows))


def _decided_at(ctx: WorldContext, period_or_ts: str | int, rng: Random | None = None) -> str:
    first = (
        dt.date.fromisoformat(f"{period_or_ts}-01")
        if isinstance(period_or_ts, str)
        else day_of(period_or_ts).replace(day=1)
    )
    rng = rng or ctx.rng
    when = dt.datetime.combine(add_months(first, 1), dt.time(), dt.UTC) + dt.timedelta(
        days=rng.randint(1, 9),
        hours=rng.randint(8, 17),
        minutes=rng.randint(0, 59),
    )
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_decisions(ctx: WorldContext) -> None:
    last_period = (ctx.end - dt.timedelta(days=1)).strftime("%Y-%m")
    notes = {
        "timing_difference": "Receipt posted in the following period; clears next month.",
        "fee_variance": "Booked net of Stripe fees; fee journal posted to 6150.",
        "fx_variance": "Booked in USD at our bank rate; difference posted to FX gain/loss.",
        "rounding": "One cent rounding difference, written off.",
        "duplicate_charge": "Customer charged twice; refund issued and customer informed.",
        "missing_in_erp": "Receipt was never posted; entered it in the ERP.",
        "missing_in_stripe": "No Stripe charge behind this receipt; reversed the entry.",
        "amount_mismatch": "Keying error in the receipt amount; corrected.",
        "unrecorded_dispute": "Chargeback journal was missing; booked it to 6160.",
        "missing_deposit": "Deposit found on the bank statement; posted the journal.",
        "failed_payout": "Bank account closed; updated payout account, funds re-paid.",
        "duplicate_erp_entry": "Receipt entered twice; voided the later entry.",
        "debit_failed_after_booking": "Debit returned by the bank; receipt reversed, invoice reopened.",
    }
    with CsvSink(
        ctx.out / "decisions" / "exception_resolutions.csv",
        ["object_id", "exception_type", "disposition", "resolved_at", "resolved_by", "note"],
    ) as sink:
        for a in ctx.anomalies:
            if a.period >= last_period:
                continue
            rng = a.rng or (ctx.variance_rng if a.own_stream else ctx.rng)
            ctx.extra.resolved.write([a.object_id])
            sink.write(
                [
                    a.object_id,
                    a.exception_type,
                    DISPOSITIONS[a.exception_type],
                    _decided_at(ctx, a.period, rng),
                    rng.choice(_ANALYSTS),
                    a.resolution or notes[a.exception_type],
                ]
            )
    with CsvSink(
        ctx.out / "decisions" / "match_decisions.csv",
        [
            "stripe_object_id",
            "erp_document_number",
            "erp_payment_number",
            "erp_journal_number",
            "decision",
            "decided_at",
            "decided_by",
        ],
    ) as sink:
        for decision, pairs in (("confirmed", ctx.confirmed), ("rejected", ctx.rejected)):
            for sid, doc, pmt, je, ts in pairs:
                if ctx.period(ts) >= last_period:
                    continue
                sink.write(
                    [
                        sid,
                        doc,
                        pmt,
                        je,
                        decision,
                        _decided_at(ctx, ts),
                        ctx.rng.choice(_ANALYSTS),
                    ]
                )


def _write_manifest(ctx: WorldContext, n_bad_rows: int) -> None:
    manifest = {
        "format": FORMAT_VERSION,
        "seed": ctx.spec.seed,
        "scale": ctx.spec.scale,
        "start": ctx.start.isoformat(),
        "end": (ctx.end - dt.timedelta(days=1)).isoformat(),
        "end_exclusive": ctx.end.isoformat(),
        "end_ts": ctx.end_ts,
        "api_version": API_VERSION,
        "counts": dict(sorted(ctx.counts.items())),
        "anomalies": dict(sorted(Counter(a.exception_type for a in ctx.anomalies).items())),
        "bad_rows": n_bad_rows,
    }
    if not ctx.spec.mess.is_none:  # a world without mess keeps the manifest it always had
        manifest["mess"] = ctx.spec.mess.as_dict()
        manifest["mess_stories"] = dict(sorted(ctx.mess.counts.items()))
    (ctx.out / "manifest.json").write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
