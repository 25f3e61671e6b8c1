"""Formatting filters for the analytics page: rates, percentage points, seconds."""

from __future__ import annotations

from decimal import Decimal

from django import template

from policies.engine.diff import format_money

register = template.Library()


@register.filter
def pct(value: float | None) -> str:
    """0.341 → "34.1 %"; ``None`` → "—"."""
    return "—" if value is None else f"{value * 100:.1f} %"


@register.filter
def pp(value: float | None) -> str:
    """0.121 → "+12.1 pp"; ``None`` → "—"."""
    return "—" if value is None else f"{value * 100:+.1f} pp"


@register.filter
def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} s"


@register.filter
def money(value: Decimal | None, currency: str) -> str:
    """Decimal("123.4"), "EUR" → "123.40 EUR"; ``None`` → "—" (docs/ANALYTICS.md)."""
    return format_money(value, currency, empty="—")
