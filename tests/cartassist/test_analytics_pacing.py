"""The helpdesk pacing figures (docs/ANALYTICS.md, "Helpdesk pacing"): expected and actual
follow-ups per hour against capacity, the outreach that waited or was suppressed as
"helpdesk busy"; the service, the page section and the JSON API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from cartassist.carts.models.helpdesk import office_hours_grid
from cartassist.core.roles import groups_ensure
from cartassist.models import FollowUpContact, FollowUpSource, HelpdeskCapacity, Site
from cartassist.outcomes.services.pacing_analytics import helpdesk_pacing_compute
from tests.cartassist.test_analytics import logged_in
from tests.fixtures.agents import make_intervention, make_stalled_cart

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)  # a Tuesday
AT = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)  # 10:05 in Berlin
NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
QUERY = {"date_from": "2026-03-10", "date_to": "2026-03-10"}


@pytest.fixture
def analyst(db: Any) -> Client:
    user = User.objects.create_user("merch", is_staff=True)
    user.groups.add(groups_ensure()["Merchandisers"])
    return logged_in(user)


@pytest.fixture
def world(site: Site, settings: Any) -> Site:
    """Two invitations at 10:05 Berlin (one waited 90 s), one suppressed as helpdesk
    busy, and one helpdesk contact at 10:20 credited to an invitation. Each invitation
    causes one contact within the hour after it (rate 100 %, delay window of 1 h)."""
    settings.CARTASSIST_PACING_PRIOR_RATE_PERCENT = 100
    settings.CARTASSIST_PACING_DELAY_HOURS = 1
    HelpdeskCapacity.objects.create(site=site, pacing_enabled=True, hourly=office_hours_grid())
    first = make_intervention(make_stalled_cart(site, visitor_id="a", now=AT), now=AT)
    waited = make_intervention(make_stalled_cart(site, visitor_id="b", now=AT), now=AT)
    waited.paced_wait = timedelta(seconds=90)
    waited.save()
    make_intervention(
        make_stalled_cart(site, visitor_id="c", now=AT),
        decision="suppressed",
        suppression_reason="helpdesk_busy",
        now=AT,
    )
    FollowUpContact.objects.create(
        site=site, key="hd-1", source=FollowUpSource.HELPDESK, channel="phone", reason="other",
        occurred_at=AT + timedelta(minutes=15), received_at=AT + timedelta(minutes=15),
        intervention=first, visitor_id="a",
    )  # fmt: skip
    return site


def test_expected_and_actual_follow_ups_per_hour_against_capacity(world: Site) -> None:
    # when: half an hour after the outreach, before anything is measured (the prior)
    pacing = helpdesk_pacing_compute(
        site=world, date_from=DAY, date_to=DAY, now=AT + timedelta(minutes=30)
    )
    # then: 24 hours of the day; each invitation counted at 09:30 UTC (10:30 Berlin) puts
    # half a contact in the 10:00 hour and half in the 11:00 hour
    assert len(pacing.hours) == 24
    assert pacing.hours_from == "2026-03-10T00:00:00+01:00"
    by_hour = {h.start[11:13]: h for h in pacing.hours}
    assert (by_hour["10"].expected, by_hour["11"].expected) == (
        pytest.approx(1.0),
        pytest.approx(1.0),
    )
    assert by_hour["10"].actual == 1
    assert (by_hour["10"].capacity, by_hour["03"].capacity) == (10, 0)
    assert pacing.expected_total == pytest.approx(2.0)
    assert pacing.actual_total == 1
    assert pacing.hours_over_capacity_expected == 0


def test_outreach_that_waited_or_was_suppressed_as_helpdesk_busy(world: Site) -> None:
    pacing = helpdesk_pacing_compute(site=world, date_from=DAY, date_to=DAY, now=NOW)
    assert pacing.pacing_enabled is True
    assert pacing.invitations_waited == 1
    assert pacing.median_wait_seconds == 90
    assert pacing.suppressed_helpdesk_busy == 1
    assert pacing.waiting_then_other == 0


def test_the_rates_pacing_uses_are_reported_with_what_they_are_measured_from(
    world: Site, settings: Any
) -> None:
    # given: no shrinkage, so the rate is the measured one
    settings.CARTASSIST_PACING_PRIOR_STRENGTH = 0
    settings.CARTASSIST_PACING_REASON_STRENGTH = 0
    # when
    pacing = helpdesk_pacing_compute(site=world, date_from=DAY, date_to=DAY, now=NOW)
    # then: two shipping-shock invitations, one followed up within the hour
    assert [(r.stall_reason, r.invitations, r.followed_up, r.rate) for r in pacing.rates] == [
        ("shipping_shock", 2, 1, 0.5)
    ]
    assert pacing.overall_rate == 0.5
    assert pacing.curve_first_hour == pytest.approx(1.0)


def test_the_page_shows_the_section_for_one_site_only(world: Site, analyst) -> None:
    # when
    one = analyst.get("/analytics/", {**QUERY, "site": world.pk}).content.decode()
    every = analyst.get("/analytics/", QUERY).content.decode()
    # then
    assert 'data-testid="pacing"' in one
    assert "Invited after waiting for the helpdesk: 1 (median wait 90 s)." in one
    assert "Suppressed as “helpdesk busy”: 1." in one
    assert "Helpdesk: expected and actual follow-ups per hour against capacity" in one
    assert 'data-testid="pacing"' not in every


def test_the_json_api_gives_the_figures_of_one_site(
    world: Site,
    analyst,
    settings: Any,
) -> None:
    # when: today, the invitations are older than the statistics' 56 days: the prior

    response = analyst.get("/api/v1/analytics/helpdesk", {**QUERY, "site": world.pk})
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["suppressed_helpdesk_busy"] == 1
    assert body["expected_total"] == 2.0
    assert len(body["hours"]) == 24
    assert body["hours"][10] == {
        "start": "2026-03-10T10:00:00+01:00", "expected": 1.0, "actual": 1, "capacity": 10,
    }  # fmt: skip


def test_the_json_api_needs_a_site_and_the_permission(world: Site, analyst, client) -> None:
    missing = analyst.get("/api/v1/analytics/helpdesk", QUERY)
    assert missing.status_code == 400
    assert "site" in missing.json()["errors"]
    assert client.get("/api/v1/analytics/helpdesk", {**QUERY, "site": world.pk}).status_code == 403
