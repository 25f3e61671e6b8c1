"""Money and moments as a shopper reads them, in their language (Babel, no Django).

Server-rendered pages use these; the browser formats with ``Intl`` (docs/REALTIME.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_name
from babel.numbers import format_currency


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """``9.90 EUR`` as ``language`` writes it: "9,90 €" (de), "€9.90" (en)."""
    return format_currency(amount, currency, locale=language)


@dataclass(frozen=True)
class LocalMoment:
    """A moment in a place's time zone, written in a language, with the zone named."""

    date: str  # "4. Dezember 2026"
    time: str  # "12:36"
    zone: str  # "Mitteleuropäische Normalzeit"


def format_moment(moment: datetime, zone: str, language: str) -> LocalMoment:
    """``moment`` (aware) in the IANA time zone ``zone``, in ``language``."""
    local = moment.astimezone(ZoneInfo(zone))
    return LocalMoment(
        date=format_date(local, "long", locale=language),
        time=format_time(local, "short", locale=language),
        zone=get_timezone_name(local, "long", locale=language),
    )
