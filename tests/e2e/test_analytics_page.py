"""A merchandiser opens the admin, follows the Analytics link and reads the figures and
charts, in headless Chromium against a live server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from cartassist.demo.seed import MERCHANDISER_LOGIN, demo_seed
from cartassist.models import Decision, Intervention, InvitationResult, Site, StallReason
from tests.fixtures.agents import make_intervention, make_stalled_cart

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def analytics_data(shop_server: Any) -> Site:
    """The demo site with outcomes over the last three days: 60 invited carts (24
    converted), 40 held out (8 converted), across two stall reasons.

    The one place the page's data comes from: to run the simulator command instead,
    replace this fixture's body (the test only needs the demo site and its logins)."""
    site = demo_seed(origins=[shop_server.url]).site
    now = timezone.now()
    arms = [(Decision.INVITED, 60, 24), (Decision.HELD_OUT, 40, 8)]
    for decision, carts, converted in arms:
        for i in range(carts):
            decided_at = now - timedelta(days=i % 3, minutes=5)
            cart = make_stalled_cart(site, visitor_id=f"v-{decision}-{i}", now=decided_at)
            reason = StallReason.SHIPPING_SHOCK if i % 2 else StallReason.PAYMENT_FAILED
            intervention = make_intervention(
                cart, decision=decision, stall_reason=reason, now=decided_at
            )
            outcome: dict[str, Any] = {}
            if decision == Decision.INVITED:
                outcome["invitation_result"] = InvitationResult.ACCEPTED
                outcome["first_response_seconds"] = 5.0 + i
            if i < converted:
                cost = Decimal("4.90") if decision == Decision.INVITED else Decimal(0)
                outcome.update(
                    converted=True,
                    revenue=Decimal("60.00"),
                    remedy_cost=cost,
                    net_revenue=Decimal("60.00") - cost,
                )
            Intervention.objects.filter(pk=intervention.pk).update(**outcome)
    return site


def test_a_merchandiser_finds_the_analytics_from_the_admin(page, shop_server, analytics_data):
    # given: logged in to the admin as the demo merchandiser
    page.goto(shop_server.url + "/admin/")
    page.get_by_label("Username").fill(MERCHANDISER_LOGIN[0])
    page.get_by_label("Password").fill(MERCHANDISER_LOGIN[1])
    page.get_by_role("button", name="Log in").click()

    # when: following the Analytics link on the admin index
    page.locator("#analytics-module").get_by_role("link", name="Analytics").first.click()

    # then: the headline with the sample sizes and interval
    expect(page).to_have_url(shop_server.url + "/analytics/")
    headline = page.get_by_test_id("headline")
    expect(headline).to_contain_text("Invited carts converted 40.0 % (n=60)")
    expect(headline).to_contain_text("vs 20.0 % held out (n=40): +20.0 pp, 95 % CI")
    # and the three kinds of chart, each with plotted marks
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(3)

    def chart(title: str) -> Any:
        return page.locator("svg.chart", has=page.locator("title", has_text=title))

    rates = chart("Conversion rate per day, invited vs held out")
    assert rates.locator("circle.point").count() == 6  # 3 days × 2 arms
    uplift = chart("Uplift in conversion with its 95 % confidence interval")
    assert uplift.locator("g.interval").count() == 3  # overall and two stall reasons
    money = chart("Revenue vs remedy cost per day (EUR)")
    assert money.locator("rect.bar").count() == 6  # 3 days × revenue and cost
    assert float(money.locator("rect.bar").first.get_attribute("height")) > 0
    # and the tables beside the charts
    expect(page.get_by_role("table", name="Conversion by stall reason")).to_contain_text(
        "Shipping shock"
    )
