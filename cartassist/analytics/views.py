"""The analytics page and its CSV export (thin: parse the filters, call
``analytics_compute``, format). Who may see them: users with
``cartassist.view_intervention`` (the Merchandisers group, superusers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from cartassist.domain.analytics_report import AnalyticsReport
from cartassist.outcomes.services.analytics import MIN_ARM_SIZE, analytics_compute

from . import charts, text
from .export import report_csv
from .forms import AnalyticsFilterForm
from .pacing import pacing_section

PERMISSION = "cartassist.view_intervention"

View = Callable[[HttpRequest], HttpResponse]


def analytics_permission_required(view: View) -> View:
    """Anonymous: to the admin login. Logged in without the permission: 403."""

    def wrapped(request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return view(request)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def report_compute(form: AnalyticsFilterForm) -> AnalyticsReport:
    """The report for a validated filter form (the page, the CSV and the JSON API)."""
    f = form.filters()
    return analytics_compute(
        site_ids=f.site_ids,
        date_from=f.date_from,
        date_to=f.date_to,
        tz=f.tz,
        plan_uplift=f.plan_uplift,
        plan_holdout_share=f.plan_holdout_share,
    )


@analytics_permission_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    form = AnalyticsFilterForm(request.GET, now=timezone.now())
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Analytics",
        "form": form,
        "export_query": request.GET.urlencode(),
    }
    if not form.is_valid():
        return render(request, "cartassist/analytics.html", context, status=400)
    report = report_compute(form)
    context.update(_presentation(report))
    context.update(pacing_section(form.filters(), now=timezone.now()))
    return render(request, "cartassist/analytics.html", context)


@analytics_permission_required
def analytics_export_csv(request: HttpRequest) -> HttpResponse:
    form = AnalyticsFilterForm(request.GET, now=timezone.now())
    if not form.is_valid():
        errors = {field: list(messages) for field, messages in form.errors.items()}
        return JsonResponse({"detail": "Invalid input.", "errors": errors}, status=400)
    report = report_compute(form)
    f = report.filters
    response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="cartassist-analytics-{f.date_from}-{f.date_to}.csv"'
    )
    return response


def _presentation(report: AnalyticsReport) -> dict[str, Any]:
    """The report plus what the template shows beside it: sentences and charts."""
    conversion = report.conversion
    days = [d.day.strftime("%d %b") for d in report.daily]
    rate_chart = charts.line_chart(
        title="Conversion rate per day, invited vs held out",
        desc=(
            f"Daily share of stalled carts that converted, {report.filters.date_from} to "
            f"{report.filters.date_to}; the table below gives the figures."
        ),
        labels=days,
        series=[
            charts.Series("Invited", charts.INVITED_COLOUR, [d.invited_rate for d in report.daily]),
            charts.Series(
                "Held out", charts.HELD_OUT_COLOUR, [d.held_out_rate for d in report.daily]
            ),
        ],
    )
    uplift_rows = [
        charts.IntervalRow("All stall reasons", conversion.uplift, conversion.uplift_low,
                           conversion.uplift_high),
        *(
            charts.IntervalRow(line.label, line.conversion.uplift, line.conversion.uplift_low,
                               line.conversion.uplift_high)
            for line in report.by_stall_reason
        ),
    ]  # fmt: skip
    uplift_chart = charts.interval_chart(
        title="Uplift in conversion with its 95 % confidence interval",
        desc="Invited minus held-out conversion rate in percentage points, overall and per "
        "stall reason; a bar crossing zero means the sample cannot tell.",
        rows=uplift_rows,
    )
    money_charts = []
    for line in report.money:
        per_day = {d.day: d for d in report.daily_money if d.currency == line.currency}
        money_charts.append(
            {
                "currency": line.currency,
                "svg": mark_safe(  # noqa: S308 - built by charts.py, every text escaped
                    charts.bar_chart(
                        title=f"Revenue vs remedy cost per day ({line.currency})",
                        desc="Revenue credited to invited carts and the remedies redeemed "
                        "on their orders, by the day of the decision.",
                        labels=days,
                        series=[
                            charts.Series(
                                "Revenue",
                                charts.REVENUE_COLOUR,
                                [_revenue(per_day, d.day) for d in report.daily],
                            ),
                            charts.Series(
                                "Remedy cost",
                                charts.COST_COLOUR,
                                [_cost(per_day, d.day) for d in report.daily],
                            ),
                        ],
                    )
                ),
            }
        )
    return {
        "report": report,
        "verdict": text.plain_headline(conversion, MIN_ARM_SIZE),
        "finding": text.finding(conversion).value,
        "headline": text.headline(conversion),
        "caution": text.caution(conversion, MIN_ARM_SIZE),
        "follow_up_verdict": text.plain_headline(
            report.follow_ups.rate, MIN_ARM_SIZE, text.FOLLOW_UPS
        ),
        "follow_up_headline": text.headline(report.follow_ups.rate, what="contacted the shop"),
        "follow_up_caution": text.caution(report.follow_ups.rate, MIN_ARM_SIZE),
        "rate_chart": mark_safe(rate_chart),  # noqa: S308 - every text escaped
        "uplift_chart": mark_safe(uplift_chart),  # noqa: S308 - every text escaped
        "money_charts": money_charts,
        "min_arm_size": MIN_ARM_SIZE,
        "stall_reason_lines": [
            {"line": line, "text": text.headline(line.conversion)}
            for line in report.by_stall_reason
        ],
    }


def _revenue(per_day: dict[Any, Any], day: Any) -> Any:
    return per_day[day].revenue if day in per_day else None


def _cost(per_day: dict[Any, Any], day: Any) -> Any:
    return per_day[day].remedy_cost if day in per_day else None
