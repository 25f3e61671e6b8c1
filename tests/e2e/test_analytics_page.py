"""A merchandiser opens the admin, follows the Analytics link and reads the figures and
charts, in headless Chromium against a live server."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from cartassist.demo.seed import MERCHANDISER_LOGIN, demo_seed
from cartassist.models import Intervention
from cartassist.simulation import (
    SimulationConfig,
    SimulationSummary,
    simulate,
    simulation_site_ensure,
)
from tests.e2e.a11y import assert_no_blocking_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def analytics_data(shop_server: Any) -> SimulationSummary:
    """The simulator's population, sent through the real pipeline (events, sweep,
    invitations, chats, offers, grants, orders, follow-ups) over the last three days on a
    site of its own, beside the demo site and its logins."""
    demo_seed(origins=[shop_server.url])
    now = timezone.now()
    site = simulation_site_ensure(name="Simulated shop", now=now)
    config = SimulationConfig(
        shoppers=240, days=3, invited_conversion=0.40, holdout_conversion=0.15, seed=11
    )
    return simulate(site=site, config=config, now=now)


def test_a_merchandiser_finds_the_analytics_from_the_admin(page, shop_server, analytics_data):
    # given: logged in to the admin as the demo merchandiser
    page.goto(shop_server.url + "/admin/")
    page.get_by_label("Username").fill(MERCHANDISER_LOGIN[0])
    page.get_by_label("Password").fill(MERCHANDISER_LOGIN[1])
    page.get_by_role("button", name="Log in").click()

    # when: following the Analytics link on the admin index
    page.locator("#analytics-module").get_by_role("link", name="Analytics").first.click()

    # then: the verdict in plain words first ...
    expect(page).to_have_url(shop_server.url + "/analytics/")
    measured = analytics_data.measured
    assert measured.invited > 50  # the simulator really ran
    assert measured.held_out > 50
    verdict = page.get_by_test_id("verdict")
    expect(verdict).to_contain_text("comparable carts we did not contact")
    expect(verdict).to_contain_text(
        f"{100 * measured.invited_rate:.0f} % against {100 * measured.held_out_rate:.0f} %"
    )
    # ... then the statistics: the sample sizes and the interval
    headline = page.get_by_test_id("headline")
    expect(page.locator("[data-testid=verdict] + [data-testid=headline]")).to_have_count(1)
    expect(headline).to_contain_text(
        f"Invited carts converted {100 * measured.invited_rate:.1f} % (n={measured.invited})"
    )
    expect(headline).to_contain_text(
        f"vs {100 * measured.held_out_rate:.1f} % held out (n={measured.held_out}):"
    )
    expect(headline).to_contain_text("95 % CI")
    # and the three kinds of chart, each with plotted marks
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(3)

    def chart(title: str) -> Any:
        return page.locator("svg.chart", has=page.locator("title", has_text=title))

    rates = chart("Conversion rate per day, invited vs held out")
    points = rates.locator("circle.point").count()
    assert points >= 4  # a point per day and arm, over three days
    uplift = chart("Uplift in conversion with its 95 % confidence interval")
    reasons = (
        Intervention.objects.filter(decision__in=["invited", "held_out"])
        .values("stall_reason")
        .distinct()
        .count()
    )
    assert uplift.locator("g.interval").count() == 1 + reasons  # overall and per reason
    money = chart("Revenue vs remedy cost per day (EUR)")
    assert money.locator("rect.bar").count() >= 6  # 3 days or more × revenue and cost
    heights = [
        float(h)
        for h in money.locator("rect.bar").evaluate_all(
            "bars => bars.map(b => b.getAttribute('height'))"
        )
    ]
    assert max(heights) > 0
    # and the tables beside the charts
    expect(page.get_by_role("table", name="Conversion by stall reason")).to_contain_text(
        "Shipping shock"
    )
    # and the always-valid interval beside the fixed one, and CUPED's
    expect(headline).to_contain_text("always-valid 95 % interval")
    intervals = page.get_by_test_id("intervals")
    expect(intervals).to_contain_text("Adjusted for what was known before outreach (CUPED)")
    expect(page.get_by_test_id("variance-reduction")).to_contain_text("CUPED removed")
    # and the page passes axe-core: no critical or serious violation
    assert_no_blocking_violations(page)

    # when: the merchandiser plans for a 3-point uplift and a 25 % holdout
    page.get_by_label("Uplift to detect (points)").fill("3")
    page.get_by_label("Compare with a holdout of (%)").fill("25")
    page.get_by_role("button", name="Show").click()
    # then: the planner has a line for it beside the current share
    plan = page.get_by_role("table", name="Carts needed per holdout share")
    expect(plan).to_contain_text("25.0 %")
    expect(plan).to_contain_text("(current)")
    expect(page.get_by_test_id("plan")).to_contain_text("To detect an uplift of +3.0 pp")
