"""How a follow-up contact ended (``resolution``), reported with the contact or later by
re-posting its id; the ``follow_up.reported`` webhook; contacts named by email or phone
(docs/API.md "POST /api/v1/server/follow-ups", docs/WEBHOOKS.md)."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cartassist.api.auth import sign
from cartassist.models import FollowUpContact, Site, WebhookDelivery, WebhookEndpoint
from tests.fixtures.agents import make_intervention, make_stalled_cart
from tests.fixtures.carts import EventPoster, iso, make_event
from tests.fixtures.contacts import every_stored_text

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
_steps = itertools.count(0)


def report(client: Client, site: Site, **overrides: Any) -> Any:
    payload: dict[str, Any] = {
        "id": "hd-1",
        "visitor_id": "visitor-1",
        "channel": "phone",
        "reason": "needed_confirmation",
        "occurred_at": iso(timezone.now() - HOUR),
    }
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    body = json.dumps(payload).encode()
    ts = str(int(time.time()) - 200 + next(_steps) % 150)
    return client.post(
        "/api/v1/server/follow-ups",
        body,
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(site.secret, ts, body),
    )


def stored() -> tuple[Any, ...]:
    contact = FollowUpContact.objects.get()
    return (contact.reason, contact.channel, contact.resolution, contact.note)


def outreach(site: Site, *, visitor_id: str = "visitor-1") -> Any:
    cart = make_stalled_cart(site, visitor_id=visitor_id, now=timezone.now() - 3 * HOUR)
    return make_intervention(cart, now=timezone.now() - 3 * HOUR)


def subscribe(site: Site, events: list[str]) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(site=site, url="http://127.0.0.1:9/hooks", events=events)


def sent() -> list[dict[str, Any]]:
    return [
        d.payload["data"]
        for d in WebhookDelivery.objects.filter(event="follow_up.reported").order_by("created_at")
    ]


def test_a_contact_reported_with_its_resolution(client: Client, site: Site) -> None:
    intervention = outreach(site)
    response = report(client, site, resolution="self_served")
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "id": "hd-1",
        "duplicate": False,
        "intervention_id": intervention.pk,
        "resolution": "self_served",
    }
    assert stored() == ("needed_confirmation", "phone", "self_served", "")


def test_resolution_reported_later_changes_only_that_field(client: Client, site: Site) -> None:
    # given a contact reported without a resolution
    outreach(site)
    assert report(client, site, note="Asked about the free delivery").status_code == 201
    assert FollowUpContact.objects.get().resolution_reported_at is None
    # when the same id comes again with a resolution and other (ignored) changes
    later = report(client, site, resolution="agent", reason="other", channel="email", note="x")
    # then only the resolution changed
    assert later.status_code == 200
    assert later.json()["duplicate"] is True
    assert later.json()["resolution"] == "agent"
    assert stored() == ("needed_confirmation", "phone", "agent", "Asked about the free delivery")
    assert FollowUpContact.objects.get().resolution_reported_at is not None


def test_reporting_the_same_resolution_again_is_a_no_op(client: Client, site: Site) -> None:
    outreach(site)
    subscribe(site, ["follow_up.reported"])
    report(client, site, resolution="self_served")
    first_reported_at = FollowUpContact.objects.get().resolution_reported_at
    again = report(client, site, resolution="self_served")
    without = report(client, site)  # a repeat without resolution keeps it
    assert again.status_code == without.status_code == 200
    assert without.json()["resolution"] == "self_served"
    assert FollowUpContact.objects.get().resolution_reported_at == first_reported_at
    assert len(sent()) == 1


def test_the_webhook_is_sent_on_report_and_on_each_resolution_change(
    client: Client, site: Site
) -> None:
    # given an endpoint subscribed to follow_up.reported, and one that is not
    intervention = outreach(site)
    subscribe(site, ["follow_up.reported"])
    subscribe(site, ["grant.issued"])
    # when reported, repeated, resolved, then resolved otherwise
    report(client, site)
    report(client, site)
    report(client, site, resolution="self_served")
    report(client, site, resolution="agent")
    # then three events, each the contact as it then stood
    contact = FollowUpContact.objects.get()
    base = {
        "follow_up_id": "hd-1",
        "intervention_id": intervention.pk,
        "visitor_id": "visitor-1",
        "customer_id": "",
        "channel": "phone",
        "reason": "needed_confirmation",
        "occurred_at": iso(contact.occurred_at),
    }
    events = sent()
    assert [e["resolution"] for e in events] == [None, "self_served", "agent"]
    assert events[0] == {**base, "resolution": None, "resolution_reported_at": None}
    assert events[2] == {
        **base,
        "resolution": "agent",
        "resolution_reported_at": iso(contact.resolution_reported_at),  # type: ignore[arg-type]
    }
    assert WebhookDelivery.objects.count() == 3  # none for the other endpoint
    assert {d.payload["type"] for d in WebhookDelivery.objects.all()} == {"follow_up.reported"}


def test_a_contact_named_by_email_is_credited_to_the_shopper(client: Client, site: Site) -> None:
    # given outreach on the visitor's cart, and a signed event tying the visitor to an email
    intervention = outreach(site, visitor_id="visitor-7")
    EventPoster(client, site).server(
        [make_event(cart_id="acct", visitor_id="visitor-7", email="Grace@Example.com")]
    )
    # when the helpdesk only knows the email
    response = report(client, site, visitor_id=None, email=" grace@example.com", id="hd-mail")
    # then the contact is the shopper's, and the email is nowhere in clear
    assert response.status_code == 201, response.json()
    assert response.json()["intervention_id"] == intervention.pk
    contact = FollowUpContact.objects.get()
    assert (contact.visitor_id, contact.customer_id) == ("visitor-7", "")
    assert "grace" not in every_stored_text()


def test_an_unknown_email_stores_an_uncredited_contact(client: Client, site: Site) -> None:
    outreach(site)
    response = report(client, site, visitor_id=None, phone="+44 20 7946 0958")
    assert response.status_code == 201
    assert response.json()["intervention_id"] is None
    assert "7946" not in every_stored_text()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"resolution": "deflected"}, "resolution"),
        ({"email": "nope"}, "email"),
        ({"phone": "12345"}, "phone"),
        ({"visitor_id": None}, "customer_id"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    client: Client, site: Site, overrides: dict, field: str
) -> None:
    subscribe(site, ["follow_up.reported"])
    response = report(client, site, **overrides)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert FollowUpContact.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


def test_a_bad_resolution_on_a_repeat_changes_nothing(client: Client, site: Site) -> None:
    report(client, site, resolution="agent")
    assert report(client, site, resolution="maybe").status_code == 400
    assert stored()[2] == "agent"
