"""The analytics page's helpdesk pacing section (docs/ANALYTICS.md, "Helpdesk pacing"):
shown when one site is chosen, since capacity is per site."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.safestring import mark_safe

from cartassist.analytics.forms import AnalyticsFilters
from cartassist.carts.models import Site
from cartassist.outcomes.services.pacing_analytics import helpdesk_pacing_compute

from . import charts

CAPACITY_COLOUR = "#5f6368"


def pacing_section(filters: AnalyticsFilters, *, now: datetime) -> dict[str, Any]:
    """The section's context: ``{"pacing": …, "pacing_chart": <svg>}``, or empty for
    every site."""
    if filters.site_ids is None or len(filters.site_ids) != 1:
        return {}
    site = Site.objects.get(pk=filters.site_ids[0])
    pacing = helpdesk_pacing_compute(
        site=site, date_from=filters.date_from, date_to=filters.date_to, now=now
    )
    labels = [
        h.start[5:10] + " " + h.start[11:13] + "h" if h.start[11:13] == "00" else ""
        for h in pacing.hours
    ]
    chart = charts.line_chart(
        title="Helpdesk: expected and actual follow-ups per hour against capacity",
        desc=(
            "Per clock hour of the site, the helpdesk contacts the invitations were expected "
            "to cause, those that came, and the contacts per hour the helpdesk absorbs; the "
            "table below gives the totals."
        ),
        labels=labels,
        series=[
            charts.Series("Expected", charts.INVITED_COLOUR, [h.expected for h in pacing.hours]),
            charts.Series("Actual", charts.HELD_OUT_COLOUR, [h.actual for h in pacing.hours]),
            charts.Series("Capacity", CAPACITY_COLOUR, [h.capacity for h in pacing.hours]),
        ],
        fmt=lambda value: f"{value:.1f}",
    )
    return {"pacing": pacing, "pacing_chart": mark_safe(chart)}  # noqa: S308 - escaped
