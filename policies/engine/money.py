"""Exact money: ISO 4217 currencies, their minor units, and rounding.

Pure and standard-library only, so that both the Django side (ingestion) and the policy
engine use one definition of "a valid amount in this currency".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

# ISO 4217 active codes and their minor units (exponent). Currencies with 0 minor units
# (JPY, KRW, ...) take whole amounts; with 3 (BHD, KWD, ...) three decimal places.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2,
    "AWG": 2, "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0,
    "BMD": 2, "BND": 2, "BOB": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2,
    "BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2, "CRC": 2,
    "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2,
    "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2,
    "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2,
    "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2,
    "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0,
    "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2,
    "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2,
    "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2, "NAD": 2,
    "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2,
    "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2, "RSD": 2,
    "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2,
    "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2,
    "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2,
    "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "UYU": 2, "UZS": 2, "VES": 2,
    "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XOF": 0, "XPF": 0, "YER": 2,
    "ZAR": 2, "ZMW": 2, "ZWG": 2,
}  # fmt: skip

# Largest amount CartAssist handles in any currency (fits NUMERIC(14, 3) comfortably).
MAX_AMOUNT = Decimal("999999999.999")


class MoneyError(ValueError):
    """An amount or currency that is not valid money."""


def is_known_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: Decimal("0.01") for EUR, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])


# A plain decimal string: ASCII digits, an optional fraction, an optional minus (so that
# "-1" is refused as negative rather than as malformed). No exponent ("1e3"), no "+",
# no "_" separators and no non-ASCII digits, all of which Decimal() would accept.
_DECIMAL_STRING = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")


def parse_decimal(value: object) -> Decimal:
    """Parse an exact, finite, non-negative amount in any currency.

    Accepts a plain decimal string ("12.50") or an int/Decimal; refuses floats (inexact),
    booleans, NaN/Infinity, exponents and other notations, negative amounts and amounts
    over MAX_AMOUNT. The currency's decimal places are checked by ``parse_amount``.
    """
    if isinstance(value, bool):
        raise MoneyError('amount must be a decimal string such as "12.50", not true/false')
    if isinstance(value, float):
        raise MoneyError('amount must be a decimal string such as "12.50", not a float')
    if isinstance(value, int | Decimal):
        amount = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_STRING.fullmatch(text):
            raise MoneyError('amount must be a decimal string such as "12.50"')
        amount = Decimal(text)
    else:
        raise MoneyError('amount must be a decimal string such as "12.50"')
    if not amount.is_finite():
        raise MoneyError("amount must be a finite number")
    if amount < 0:
        raise MoneyError("amount must not be negative")
    if amount > MAX_AMOUNT:
        raise MoneyError(f"amount must not exceed {MAX_AMOUNT}")
    return amount.copy_abs()  # "-0" is zero, not a negative zero that prints as "-0.00"


def parse_amount(value: object, currency: str) -> Decimal:
    """Parse an exact, non-negative amount in ``currency``; refuse anything inexact.

    ``parse_decimal``'s checks, then at most the currency's decimal places (12.345 EUR is
    an error, not silently rounded).
    """
    if currency not in CURRENCY_EXPONENTS:
        raise MoneyError(f"unknown currency {currency!r}")
    amount = parse_decimal(value)
    exponent = CURRENCY_EXPONENTS[currency]
    if amount != amount.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN):
        raise MoneyError(f"{currency} amounts have at most {exponent} decimal places")
    return amount.quantize(minor_unit(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` to the currency's minor unit, half to even (banker's rounding)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.currency not in CURRENCY_EXPONENTS:
            raise MoneyError(f"unknown currency {self.currency!r}")

    def __str__(self) -> str:
        return f"{quantize(self.amount, self.currency)} {self.currency}"


def floor_to_minor(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` down to the currency's minor unit: a bound computed from a
    percentage never exceeds the limit it comes from (10 % of 9.99 EUR → 0.99)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_DOWN)
