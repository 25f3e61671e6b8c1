"""Money and moments as shoppers read them (no database, no Django)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cartassist.domain.branding import language_tag_problem
from cartassist.domain.formatting import LocalMoment, format_moment, format_money

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("amount", "currency", "language", "written"),
    [
        ("9.90", "EUR", "de", f"9,90{NBSP}€"),
        ("9.90", "EUR", "fr", f"9,90{NBSP}€"),
        ("9.90", "EUR", "es", f"9,90{NBSP}€"),
        ("9.90", "EUR", "en", "€9.90"),
        ("1234.5", "GBP", "en", "£1,234.50"),
        ("1234.5", "CHF", "de", f"1.234,50{NBSP}CHF"),
        ("500", "JPY", "en", "¥500"),
    ],
)
def test_money_is_written_as_the_language_writes_it(amount, currency, language, written):
    assert format_money(Decimal(amount), currency, language) == written


def test_a_moment_is_shown_in_the_shops_time_zone_with_the_zone_named():
    # given: 08:05 UTC in July is 10:05 in Berlin (summer time)
    moment = datetime(2026, 7, 14, 8, 5, tzinfo=UTC)

    # then
    assert format_moment(moment, "Europe/Berlin", "de") == LocalMoment(
        date="14. Juli 2026", time="10:05", zone="Mitteleuropäische Sommerzeit"
    )
    assert format_moment(moment, "America/New_York", "en").time == f"4:05{chr(0x202F)}AM"


@pytest.mark.parametrize(
    ("tag", "refused"),
    [
        ("de", False),
        ("de-AT", False),
        ("de_AT", False),
        ("zh-Hant-TW", False),
        ("", True),
        ("de AT", True),
        ("-de", True),
        ("de-", True),
        ("1de", True),
        ("x" * 36, True),
    ],
)
def test_language_tags_are_checked(tag, refused):
    assert (language_tag_problem(tag) is not None) is refused
