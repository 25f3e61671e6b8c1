"""The analytics filters, shared by the page, the CSV export and the JSON API."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django import forms

from cartassist.carts.models import Site

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
ISO_DATE = "%Y-%m-%d"
# Dates outside these cannot be reported on (and the far ends of the calendar would
# overflow when the day's bounds are computed in a time zone).
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2999, 12, 31)


# The sample-size planner's default uplift to detect, in percentage points.
DEFAULT_PLAN_UPLIFT_POINTS = Decimal(5)


@dataclass(frozen=True)
class AnalyticsFilters:
    site_ids: list[int] | None
    date_from: date
    date_to: date
    tz: tzinfo
    # The planner's inputs as fractions (0.05 = 5 points; 0.2 = a 20 % holdout).
    plan_uplift: float = float(DEFAULT_PLAN_UPLIFT_POINTS / 100)
    plan_holdout_share: float | None = None


class AnalyticsFilterForm(forms.Form):
    """``date_from`` and ``date_to`` (YYYY-MM-DD, inclusive, in the site's time zone, or
    UTC for every site) and ``site`` (a site id; empty: every site). Defaults: the last
    30 days up to today. The planner's ``plan_uplift`` (percentage points, default 5) and
    ``plan_holdout`` (a holdout share in per cent to compare with, optional). The page's
    form sends empty fields for "default"; the JSON API
    (``blank_means_default=False``) refuses an empty filter: omit it instead."""

    # ISO dates only: "10/03/2025" means different days to different people.
    date_from = forms.DateField(
        required=False,
        input_formats=[ISO_DATE],
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
        help_text="YYYY-MM-DD",
    )
    date_to = forms.DateField(
        required=False,
        input_formats=[ISO_DATE],
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
        help_text="YYYY-MM-DD",
    )
    site = forms.ModelChoiceField(
        queryset=Site.objects.order_by("name"), required=False, empty_label="All sites"
    )
    # The sample-size planner (docs/ANALYTICS.md, "Sample-size planner").
    plan_uplift = forms.DecimalField(
        required=False,
        min_value=Decimal("0.1"),
        max_value=Decimal(50),
        max_digits=4,
        decimal_places=1,
        label="Uplift to detect (points)",
        help_text="In percentage points, 0.1–50 (default 5).",
    )
    plan_holdout = forms.DecimalField(
        required=False,
        min_value=Decimal(1),
        max_value=Decimal(99),
        max_digits=4,
        decimal_places=1,
        label="Compare with a holdout of (%)",
        help_text="A holdout share to plan for, 1–99 %.",
    )

    def __init__(self, data: Any, *, now: datetime, blank_means_default: bool = True) -> None:
        super().__init__(data)
        self.now = now
        self.blank_means_default = blank_means_default

    def clean_date_from(self) -> date | None:
        return self._within_calendar(self.cleaned_data.get("date_from"))

    def clean_date_to(self) -> date | None:
        return self._within_calendar(self.cleaned_data.get("date_to"))

    @staticmethod
    def _within_calendar(value: date | None) -> date | None:
        if value is not None and not MIN_DATE <= value <= MAX_DATE:
            raise forms.ValidationError(
                f"Choose a date from {MIN_DATE:{ISO_DATE}} to {MAX_DATE:{ISO_DATE}}."
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.blank_means_default:
            for name in self.fields:
                if name in self.data and self.data.get(name) == "":
                    self.add_error(name, "This filter is empty: give a value or leave it out.")
        if self.errors:
            return cleaned
        site = cleaned.get("site")
        tz = zoneinfo.ZoneInfo(site.timezone) if site else UTC
        today = self.now.astimezone(tz).date()
        date_to = cleaned.get("date_to") or today
        date_from = cleaned.get("date_from") or date_to - timedelta(days=DEFAULT_DAYS - 1)
        if date_from > date_to:
            self.add_error("date_from", "The start date must not be after the end date.")
        elif (date_to - date_from).days >= MAX_DAYS:
            self.add_error("date_from", f"Choose at most {MAX_DAYS} days.")
        cleaned["date_from"], cleaned["date_to"], cleaned["tz"] = date_from, date_to, tz
        return cleaned

    def filters(self) -> AnalyticsFilters:
        """The validated filters (call after ``is_valid()``)."""
        data = self.cleaned_data
        site = data.get("site")
        uplift = data.get("plan_uplift") or DEFAULT_PLAN_UPLIFT_POINTS
        holdout = data.get("plan_holdout")
        return AnalyticsFilters(
            site_ids=[site.pk] if site else None,
            date_from=data["date_from"],
            date_to=data["date_to"],
            tz=data["tz"],
            plan_uplift=float(uplift / 100),
            plan_holdout_share=None if holdout is None else float(holdout / 100),
        )
