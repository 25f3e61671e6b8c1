"""Deflected follow-ups in the analytics: contacts the outreach lookup resolved without
an agent, counted and shared, by reason and channel, in the service, the JSON API, the
CSV export and the page (docs/ANALYTICS.md, "Deflected follow-ups")."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client

from cartassist.demo.seed import groups_ensure
from cartassist.domain.analytics_report import Deflection
from cartassist.domain.deflection import deflection
from cartassist.models import FollowUpContact, Intervention, Site
from cartassist.outcomes.services.analytics import analytics_compute
from tests.fixtures.agents import make_intervention, make_stalled_cart
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db

DAY = date(2025, 3, 10)
NOON = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
LATER = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
QUERY = {"date_from": "2025-03-10", "date_to": "2025-03-10"}


def outreach(site: Site, *, decision: str = "invited", at: datetime = NOON) -> Intervention:
    return make_intervention(make_stalled_cart(site, now=at), decision=decision, now=at)


def contact(
    intervention: Intervention, key: str, *, channel: str, reason: str, resolution: str = ""
) -> None:
    FollowUpContact.objects.create(
        site_id=intervention.site_id,
        key=key,
        source="helpdesk",
        channel=channel,
        reason=reason,
        resolution=resolution,
        occurred_at=intervention.decided_at,
        received_at=intervention.decided_at,
        intervention=intervention,
    )


@pytest.fixture
def world(db: None) -> tuple[Site, Site]:
    """On 10 March, site alpha: 3 deflected contacts (2 phone, 1 email), 1 handed to an
    agent, 1 without a reported outcome, one of the deflected from a held-out shopper.
    Outside the selection: a deflected contact on 20 March, and one on site beta."""
    alpha, beta = make_site(), make_site()
    first, second = outreach(alpha), outreach(alpha)
    held_out = outreach(alpha, decision="held_out")
    contact(first, "p1", channel="phone", reason="needed_confirmation", resolution="self_served")
    contact(first, "p2", channel="phone", reason="checking_genuine", resolution="self_served")
    contact(held_out, "e1", channel="email", reason="needed_confirmation", resolution="self_served")
    contact(second, "p3", channel="phone", reason="unresolved", resolution="agent")
    contact(second, "e2", channel="email", reason="needed_confirmation")
    contact(
        outreach(alpha, at=LATER), "late", channel="phone", reason="other", resolution="self_served"
    )
    contact(outreach(beta), "b1", channel="phone", reason="other", resolution="self_served")
    return alpha, beta


def test_deflection_counts_and_share(world: tuple[Site, Site]) -> None:
    alpha, _ = world
    report = analytics_compute(site_ids=[alpha.pk], date_from=DAY, date_to=DAY, tz=UTC)
    follow_ups = report.follow_ups
    assert follow_ups.deflection == Deflection(
        deflected=3, handed_to_agent=1, not_reported=1, share=0.75
    )
    by_reason = [
        (line.key, line.invited, line.held_out, line.deflected, line.handed_to_agent)
        for line in follow_ups.by_reason
    ]
    assert by_reason == [
        ("needed_confirmation", 2, 1, 2, 0),
        ("checking_genuine", 1, 0, 1, 0),
        ("unresolved", 1, 0, 0, 1),
    ]
    by_channel = [
        (line.key, line.deflected, line.handed_to_agent) for line in follow_ups.by_channel
    ]
    assert by_channel == [("email", 1, 0), ("phone", 2, 1)]


def test_every_site_counts_when_unfiltered(world: tuple[Site, Site]) -> None:
    report = analytics_compute(site_ids=None, date_from=DAY, date_to=DAY, tz=UTC)
    assert report.follow_ups.deflection == Deflection(
        deflected=4, handed_to_agent=1, not_reported=1, share=0.8
    )


def test_no_reported_resolution_has_no_share() -> None:
    assert deflection([{"resolution": "", "n": 3}]) == Deflection(0, 0, 3, None)
    assert deflection([]) == Deflection(0, 0, 0, None)


@pytest.fixture
def merchandiser(db: None) -> Client:
    user = User.objects.create_user("merch", is_staff=True)
    user.groups.add(groups_ensure()["Merchandisers"])
    client = Client()
    client.force_login(user)
    return client


def test_api_csv_and_page_show_deflection(world: tuple[Site, Site], merchandiser: Client) -> None:
    alpha, _ = world
    query = {**QUERY, "site": alpha.pk}
    # the JSON API
    data = merchandiser.get("/api/v1/analytics", query).json()
    assert data["follow_ups"]["deflection"] == {
        "deflected": 3,
        "handed_to_agent": 1,
        "not_reported": 1,
        "share": 0.75,
    }
    assert data["follow_ups"]["by_channel"][1] == {
        "key": "phone",
        "label": "Phone",
        "invited": 3,
        "held_out": 0,
        "deflected": 2,
        "handed_to_agent": 1,
    }
    # the CSV export
    rows = list(
        csv.DictReader(
            io.StringIO(merchandiser.get("/analytics/export.csv", query).content.decode())
        )
    )
    deflection_rows = {
        r["metric"]: (r["value"], r["unit"])
        for r in rows
        if r["section"] == "follow_ups.deflection"
    }
    assert deflection_rows == {
        "deflected": ("3", ""),
        "handed_to_agent": ("1", ""),
        "not_reported": ("1", ""),
        "share": ("75.0", "%"),
    }
    phone = {
        r["metric"]: r["value"]
        for r in rows
        if r["section"] == "follow_ups.by_channel" and r["dimension"] == "Phone"
    }
    assert (phone["deflected"], phone["handed_to_agent"]) == ("2", "1")
    # the page
    html = merchandiser.get("/analytics/", query).content.decode()
    assert (
        "Deflected: 3 resolved by the outreach lookup without an agent, 1 handed to an agent "
        "(75% deflected), 1 without a reported outcome." in html
    )
