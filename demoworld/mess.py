"""How messy the demo world's books are: one knob a phenomenon of real books (issue 11).

`MessSettings` holds a rate or a probability for each phenomenon that makes other people's
books hard to reconcile. Every knob is independent: it has its own random stream
(`demoworld/mess_stories.py`), so turning one on changes what it makes and nothing else, and
with every knob at zero (the `none` preset) the generator writes exactly the world it wrote
before the knobs existed.

Presets: `none` (no added mess: the world as it was), `tidy` (the low rates of the mess every
real company has) and `messy` (high rates). Any knob can be overridden on its own:
`--mess tidy --knob wrong_refs=0.2`.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.errors import UserError


@dataclass(frozen=True)
class MessSettings:
    """Rates (shares of the items they apply to, 0 to 1) of each phenomenon of messy books."""

    # customers: the ERP's master data differs from Stripe's
    erp_email_missing: float = 0.0  # share of customers with no e-mail in the ERP
    erp_email_other: float = 0.0  # share whose ERP e-mail is another address than Stripe's
    erp_email_upper: float = 0.0  # share whose ERP e-mail is written in upper case
    company_customers: float = 0.0  # share of new customers that are companies (legal suffix)
    name_variants: float = 0.0  # share whose ERP name is written differently (case, suffix, ...)
    # how sales are paid and booked
    multi_invoice: float = 0.0  # share of sales where one charge pays 2-4 invoices
    multi_invoice_one_receipt: float = 0.0  # of those, share booked as one receipt for all
    instalments: float = 0.0  # share of sales whose invoice is paid by 2-3 charges, days apart
    short_over_payment: float = 0.0  # share of sales whose receipt differs from the invoice
    subscriptions: float = 0.0  # share of new sales that start a monthly subscription
    twin_invoices: float = 0.0  # share of sales followed within days by a same-amount invoice
    # references and how the ERP writes values
    ref_forms: float = 0.0  # share of written invoice references in another form
    wrong_refs: float = 0.0  # share of written references with a typo or naming another charge
    erp_formats: float = 0.0  # share of ERP values written as real exports write them
    # the bank and the payouts
    bank_memos: float = 0.0  # share of bank deposits whose memo is in a bank's format
    deposit_lag: float = 0.0  # share of bank deposits posted 2-6 days after arrival
    equal_payouts: float = 0.0  # share of payouts of the same amount as the day before's
    # refunds
    credit_memo_dating: float = 0.0  # share of credit memos dated before or after the refund

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            if not 0.0 <= value <= 1.0:
                raise UserError(f"mess knob {name}={value}: a rate must be between 0 and 1.")

    @classmethod
    def knob_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @property
    def is_none(self) -> bool:
        return not any(self.as_dict().values())

    def active(self) -> dict[str, float]:
        """The knobs that are on, by name."""
        return {name: value for name, value in self.as_dict().items() if value}

    def with_knobs(self, overrides: Mapping[str, float]) -> MessSettings:
        unknown = sorted(set(overrides) - set(self.knob_names()))
        if unknown:
            raise UserError(
                f"unknown mess knob(s) {', '.join(unknown)}: the knobs are "
                f"{', '.join(self.knob_names())}."
            )
        return dataclasses.replace(self, **{k: float(v) for k, v in overrides.items()})

    def label(self, preset: str) -> str:
        """A short name for a world's folder: the preset, and a digest when knobs differ from it."""
        if self == PRESETS[preset]:
            return preset
        text = ",".join(f"{k}={v!r}" for k, v in sorted(self.as_dict().items()))
        return f"{preset}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


NONE = MessSettings()

# The mess every real company has: a few customers written differently, some subscriptions,
# the odd consolidated receipt, a typo now and then.
TIDY = MessSettings(
    erp_email_missing=0.05,
    erp_email_other=0.05,
    erp_email_upper=0.05,
    company_customers=0.2,
    name_variants=0.1,
    multi_invoice=0.02,
    multi_invoice_one_receipt=0.3,
    instalments=0.01,
    short_over_payment=0.01,
    subscriptions=0.1,
    twin_invoices=0.01,
    ref_forms=0.1,
    wrong_refs=0.01,
    erp_formats=0.02,
    bank_memos=0.2,
    deposit_lag=0.1,
    equal_payouts=0.03,
    credit_memo_dating=0.2,
)

# Books a new controller inherits: master data that was never cleaned, receipts booked any way.
MESSY = MessSettings(
    erp_email_missing=0.3,
    erp_email_other=0.2,
    erp_email_upper=0.2,
    company_customers=0.4,
    name_variants=0.5,
    multi_invoice=0.08,
    multi_invoice_one_receipt=0.5,
    instalments=0.04,
    short_over_payment=0.05,
    subscriptions=0.25,
    twin_invoices=0.04,
    ref_forms=0.5,
    wrong_refs=0.05,
    erp_formats=0.3,
    bank_memos=0.7,
    deposit_lag=0.5,
    equal_payouts=0.1,
    credit_memo_dating=0.6,
)

PRESETS: dict[str, MessSettings] = {"none": NONE, "tidy": TIDY, "messy": MESSY}


def parse_knobs(pairs: Iterable[str]) -> dict[str, float]:
    """`name=value` strings (the `--knob` option) -> {name: rate}."""
    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise UserError(f"--knob {pair!r}: write it as name=value, e.g. wrong_refs=0.1.") from None
    return out


def resolve_mess(preset: str = "none", knobs: Iterable[str] = ()) -> MessSettings:
    """The settings of a preset with `name=value` overrides."""
    if preset not in PRESETS:
        raise UserError(f"--mess {preset!r}: choose one of {', '.join(PRESETS)}.")
    return PRESETS[preset].with_knobs(parse_knobs(knobs))


def add_mess_options(parser: argparse.ArgumentParser) -> None:
    """`--mess PRESET` and `--knob name=value` (repeatable), for every command that makes a world."""
    parser.add_argument(
        "--mess",
        choices=tuple(PRESETS),
        default="none",
        help="how messy the books are: none (the world as it always was), tidy (the low rates "
        "every real company has) or messy (high rates); default none",
    )
    parser.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="NAME=RATE",
        help="override one knob of the preset (repeatable), e.g. --knob wrong_refs=0.2; "
        f"knobs: {', '.join(MessSettings.knob_names())}",
    )
