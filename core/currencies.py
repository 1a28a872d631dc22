"""ISO 4217 minor-unit exponents, read from the dbt seed so Python and SQL share one table."""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import cache
from pathlib import Path

from core.settings import CURRENCIES_SEED


@cache
def exponents(seed: Path = CURRENCIES_SEED) -> dict[str, int]:
    """Lower-case currency code -> number of decimals in its minor unit (JPY 0, USD 2, KWD 3)."""
    with seed.open(newline="", encoding="utf-8") as handle:
        return {row["currency"].strip().lower(): int(row["exponent"]) for row in csv.DictReader(handle)}


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact conversion of a major-unit decimal to integer minor units.

    Raises ValueError when the currency is unknown or the amount has more decimals than
    the currency's minor unit can hold (12.345 USD is not a sum of cents).
    """
    exponent = exponents()[currency.lower()]
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {exponent} decimals for {currency.upper()}")
    return int(scaled)


def to_major_string(minor: int, currency: str) -> str:
    """Integer minor units -> the decimal string an ERP exports (4800 JPY, 12.340 KWD, 45.99 USD)."""
    exponent = exponents()[currency.lower()]
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))
