"""Minor units: zero-, two- and three-decimal currencies are exact, and nothing is a float."""

from decimal import Decimal

import pytest

from core.currencies import exponents, to_major_string, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        pytest.param("45.99", "usd", 4599, id="usd"),
        pytest.param("45.99", "USD", 4599, id="usd-upper-case"),
        pytest.param("4800", "jpy", 4800, id="jpy-zero-decimal"),
        pytest.param("12.345", "kwd", 12345, id="kwd-three-decimal"),
        pytest.param("-10.50", "eur", -1050, id="negative"),
        pytest.param("0.1", "usd", 10, id="one-decimal-given"),
    ],
)
def test_to_minor_is_exact(amount: str, currency: str, minor: int) -> None:
    converted = to_minor(Decimal(amount), currency)
    assert converted == minor
    assert isinstance(converted, int)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        pytest.param("12.345", "usd", id="too-many-decimals-usd"),
        pytest.param("4800.5", "jpy", id="decimals-on-jpy"),
        pytest.param("1.0001", "kwd", id="four-decimals-kwd"),
    ],
)
def test_to_minor_refuses_what_the_currency_cannot_hold(amount: str, currency: str) -> None:
    with pytest.raises(ValueError, match="decimals"):
        to_minor(Decimal(amount), currency)


def test_unknown_currency_is_an_error() -> None:
    with pytest.raises(KeyError):
        to_minor(Decimal("1.00"), "xyz")


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        pytest.param(4599, "usd", "45.99", id="usd"),
        pytest.param(5, "usd", "0.05", id="usd-cents"),
        pytest.param(4800, "jpy", "4800", id="jpy"),
        pytest.param(12340, "kwd", "12.340", id="kwd"),
        pytest.param(-1050, "eur", "-10.50", id="negative"),
    ],
)
def test_round_trip_through_major_units(minor: int, currency: str, text: str) -> None:
    assert to_major_string(minor, currency) == text
    assert to_minor(Decimal(text), currency) == minor


def test_the_seed_knows_stripe_special_currencies() -> None:
    table = exponents()
    for code in ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]:
        assert table[code] == 0, code
    for code in ["bhd", "jod", "kwd", "omr", "tnd"]:
        assert table[code] == 3, code
    assert table["usd"] == table["eur"] == 2
