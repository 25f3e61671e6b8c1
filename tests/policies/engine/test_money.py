"""Exact money: parsing, minor units, rounding. No database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.engine.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT,
    Money,
    MoneyError,
    floor_to_minor,
    is_known_currency,
    minor_unit,
    parse_amount,
    parse_decimal,
    quantize,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.50", "12.50"),
        (" 12.5 ", "12.5"),
        ("0", "0"),
        (12, "12"),
        (Decimal("12.345"), "12.345"),
        ("999999999.999", "999999999.999"),
    ],
)
def test_parse_decimal_accepts_plain_non_negative_amounts(raw, expected):
    # when
    amount = parse_decimal(raw)
    # then
    assert str(amount) == expected


@pytest.mark.parametrize("raw", ["-0", "-0.00", Decimal("-0"), Decimal("-0.000")])
def test_parse_decimal_turns_negative_zero_into_zero(raw):
    # when
    amount = parse_decimal(raw)
    # then
    assert amount == 0
    assert not amount.is_signed()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (True, 'amount must be a decimal string such as "12.50", not true/false'),
        (1.5, 'amount must be a decimal string such as "12.50", not a float'),
        (None, 'amount must be a decimal string such as "12.50"'),
        ([1], 'amount must be a decimal string such as "12.50"'),
        ("1e3", 'amount must be a decimal string such as "12.50"'),
        ("+1", 'amount must be a decimal string such as "12.50"'),
        ("1_000", 'amount must be a decimal string such as "12.50"'),
        ("١٢", 'amount must be a decimal string such as "12.50"'),
        ("NaN", 'amount must be a decimal string such as "12.50"'),
        ("12.", 'amount must be a decimal string such as "12.50"'),
        ("1" * 21, 'amount must be a decimal string such as "12.50"'),
        (Decimal("NaN"), "amount must be a finite number"),
        (Decimal("sNaN"), "amount must be a finite number"),
        (Decimal("-Infinity"), "amount must be a finite number"),
        ("-0.01", "amount must not be negative"),
        (-1, "amount must not be negative"),
        ("1000000000", "amount must not exceed 999999999.999"),
        (10**30, "amount must not exceed 999999999.999"),
    ],
)
def test_parse_decimal_refuses_anything_else(raw, message):
    # when
    with pytest.raises(MoneyError) as refused:
        parse_decimal(raw)
    # then
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("raw", "currency", "expected"),
    [
        ("12.3", "EUR", "12.30"),
        ("12", "EUR", "12.00"),
        ("1999", "JPY", "1999"),
        ("1999.000", "JPY", "1999"),
        ("1.25", "BHD", "1.250"),
        ("1.234", "BHD", "1.234"),
    ],
)
def test_parse_amount_returns_the_currency_decimal_places(raw, currency, expected):
    # when
    amount = parse_amount(raw, currency)
    # then
    assert str(amount) == expected


@pytest.mark.parametrize(
    ("raw", "currency", "message"),
    [
        ("12.345", "EUR", "EUR amounts have at most 2 decimal places"),
        ("12.5", "JPY", "JPY amounts have at most 0 decimal places"),
        ("1.2345", "BHD", "BHD amounts have at most 3 decimal places"),
        ("12.00", "XYZ", "unknown currency 'XYZ'"),
        ("12.00", "eur", "unknown currency 'eur'"),
        ("-1.00", "EUR", "amount must not be negative"),
    ],
)
def test_parse_amount_refuses_inexact_amounts(raw, currency, message):
    # when
    with pytest.raises(MoneyError) as refused:
        parse_amount(raw, currency)
    # then
    assert str(refused.value) == message


@pytest.mark.parametrize(("currency", "unit"), [("EUR", "0.01"), ("JPY", "1"), ("BHD", "0.001")])
def test_minor_unit(currency, unit):
    # then
    assert str(minor_unit(currency)) == unit


def test_every_currency_has_0_2_or_3_decimal_places():
    # then
    assert set(CURRENCY_EXPONENTS.values()) == {0, 2, 3}
    assert all(len(code) == 3 and code.isupper() for code in CURRENCY_EXPONENTS)


@pytest.mark.parametrize(("code", "known"), [("EUR", True), ("JPY", True), ("XYZ", False)])
def test_is_known_currency(code, known):
    # then
    assert is_known_currency(code) is known


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.125", "EUR", "0.12"),
        ("0.135", "EUR", "0.14"),
        ("2.5", "JPY", "2"),
        ("3.5", "JPY", "4"),
        ("1.2345", "BHD", "1.234"),
    ],
)
def test_quantize_rounds_half_to_even(amount, currency, expected):
    # then
    assert str(quantize(Decimal(amount), currency)) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("6.005", "EUR", "6.00"),
        ("0.999", "EUR", "0.99"),
        ("199.9", "JPY", "199"),
        ("1.2349", "BHD", "1.234"),
        ("5", "EUR", "5.00"),
    ],
)
def test_floor_to_minor_rounds_down(amount, currency, expected):
    # then
    assert str(floor_to_minor(Decimal(amount), currency)) == expected


@given(
    amount=st.decimals(min_value=0, max_value=MAX_AMOUNT, allow_nan=False, allow_infinity=False),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
def test_floor_to_minor_never_exceeds_the_amount_and_keeps_the_minor_unit(amount, currency):
    # when
    floored = floor_to_minor(amount, currency)
    # then
    assert floored <= amount
    assert amount - floored < minor_unit(currency)
    assert floored.as_tuple().exponent == -CURRENCY_EXPONENTS[currency]


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("42", "EUR", "42.00 EUR"),
        ("42.005", "EUR", "42.00 EUR"),
        ("1999", "JPY", "1999 JPY"),
        ("1.25", "BHD", "1.250 BHD"),
    ],
)
def test_money_reads_with_the_currency_decimal_places(amount, currency, text):
    # then
    assert str(Money(Decimal(amount), currency)) == text


def test_money_refuses_an_unknown_currency():
    # when
    with pytest.raises(MoneyError) as refused:
        Money(Decimal(1), "ABC")
    # then
    assert str(refused.value) == "unknown currency 'ABC'"
