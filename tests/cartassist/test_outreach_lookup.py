"""The outreach lookup for the helpdesk and the phone menu (cartassist/api/outreach.py,
docs/API.md "Outreach lookup"): signed, scoped to the signing site, one shopper only."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from cartassist.api.auth import sign
from cartassist.models import Cart, ContactIdentity, Site
from tests.fixtures.agents import make_intervention, make_stalled_cart
from tests.fixtures.carts import EventPoster, make_event
from tests.fixtures.outreach import a_rescued_shopper
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

HOUR = timedelta(hours=1)
PATH = "/api/v1/server/outreach"
_steps = itertools.count(0)


def _timestamp() -> str:
    # Each request its own timestamp: a signature is accepted once.
    return str(int(time.time()) - 200 + next(_steps) % 150)


def lookup(client: Client, site: Site, *, signed_target: str | None = None, **query: str) -> Any:
    target = f"{PATH}?{urlencode(query)}" if query else PATH
    ts = _timestamp()
    return client.get(
        target,
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(
            site.secret, ts, f"GET {signed_target or target}".encode()
        ),
    )


def lookup_post(client: Client, site: Site, payload: Any, *, secret: str = "") -> Any:
    body = json.dumps(payload).encode()
    ts = _timestamp()
    return client.post(
        PATH,
        body,
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(secret or site.secret, ts, body),
    )


@pytest.mark.parametrize(
    "query",
    [
        {"visitor_id": "visitor-1"},
        {"customer_id": "C-1"},  # only on the second cart: the shopper, transitively
        {"email": "  VISITOR-1@example.com "},
        {"phone": "+49 (30) 123-4567"},
    ],
)
def test_each_key_finds_the_shoppers_outreach(client: Client, site: Site, query: dict) -> None:
    # given
    _, expected = a_rescued_shopper(site, client)
    # when
    response = lookup(client, site, **query)
    # then
    assert response.status_code == 200, response.json()
    assert response.json() == {"window_days": 7, "outreach": [expected]}


@pytest.mark.parametrize(
    "payload",
    [{"email": "visitor-1@example.com"}, {"phone": "0049301234567"}, {"customer_id": "C-1"}],
)
def test_signed_post_answers_like_get(client: Client, site: Site, payload: dict) -> None:
    _, expected = a_rescued_shopper(site, client)
    response = lookup_post(client, site, payload)
    assert response.status_code == 200, response.json()
    assert response.json() == {"window_days": 7, "outreach": [expected]}


def test_another_shopper_never_appears(client: Client, site: Site) -> None:
    # given two shoppers of one site, each with outreach
    _, first = a_rescued_shopper(site, client)
    _, second = a_rescued_shopper(site, client, visitor_id="visitor-2", order_id="B-7")
    # when / then: each key finds its own shopper only
    assert lookup(client, site, visitor_id="visitor-1").json()["outreach"] == [first]
    assert lookup(client, site, customer_id="C-1").json()["outreach"] == [first]
    assert lookup(client, site, email="visitor-2@example.com").json()["outreach"] == [second]
    assert lookup(client, site, phone="+442079460958").json()["outreach"] == [second]


def test_scoped_to_the_signing_site(client: Client, site: Site) -> None:
    # given the same ids, email and phone on another site, with its own outreach
    _, ours = a_rescued_shopper(site, client)
    other = make_site()
    _, theirs = a_rescued_shopper(other, client, order_id="Z-9")
    # when / then
    for query in ({"visitor_id": "visitor-1"}, {"email": "visitor-1@example.com"}):
        assert lookup(client, site, **query).json()["outreach"] == [ours]
        assert lookup(client, other, **query).json()["outreach"] == [theirs]
    assert ours["intervention_id"] != theirs["intervention_id"]


def test_unknown_shopper_answers_like_a_shopper_without_outreach(
    client: Client, site: Site
) -> None:
    # given a known customer with no outreach (only events)
    EventPoster(client, site).server([make_event(customer_id="C-quiet", email="quiet@example.com")])
    # when
    unknown = lookup(client, site, email="nobody@example.com")
    known = lookup(client, site, email="quiet@example.com")
    unknown_id = lookup(client, site, customer_id="C-nobody")
    # then
    assert unknown.status_code == known.status_code == unknown_id.status_code == 200
    assert unknown.json() == known.json() == unknown_id.json() == {"window_days": 7, "outreach": []}


def test_only_outreach_within_the_window_newest_first(client: Client, site: Site) -> None:
    # given outreach 8 days ago (outside the 7-day window), a held-out and a suppressed
    # decision (no outreach), and outreach an hour ago without a chat
    now = timezone.now()
    old = make_stalled_cart(site, visitor_id="visitor-1", now=now - timedelta(days=8))
    make_intervention(old, now=now - timedelta(days=8))
    for decision in ("held_out", "suppressed"):
        make_intervention(make_stalled_cart(site, visitor_id="visitor-1"), decision=decision)
    recent = make_stalled_cart(site, visitor_id="visitor-1", signal="payment_failed")
    newest = make_intervention(recent, stall_reason="payment_failed", now=now - HOUR)
    earlier = make_intervention(make_stalled_cart(site, visitor_id="visitor-1"), now=now - 3 * HOUR)
    # when
    outreach = lookup(client, site, visitor_id="visitor-1").json()["outreach"]
    # then
    assert [item["intervention_id"] for item in outreach] == [newest.pk, earlier.pk]
    assert outreach[0]["chat"] is None
    assert outreach[0]["summary"] == "Are you calling about our message about your payment?"
    assert outreach[0]["offers"] == outreach[0]["grants"] == []


def test_refused_without_a_valid_signature(client: Client, site: Site) -> None:
    a_rescued_shopper(site, client)
    target = f"{PATH}?customer_id=C-1"
    ts = _timestamp()
    good = sign(site.secret, ts, f"GET {target}".encode())
    cases = [
        {},  # unsigned
        {"HTTP_X_CARTASSIST_KEY": site.public_key, "HTTP_X_CARTASSIST_TIMESTAMP": ts},
        {
            "HTTP_X_CARTASSIST_KEY": site.public_key,
            "HTTP_X_CARTASSIST_TIMESTAMP": ts,
            "HTTP_X_CARTASSIST_SIGNATURE": sign("wrong", ts, f"GET {target}".encode()),
        },
        {
            "HTTP_X_CARTASSIST_KEY": make_site().public_key,
            "HTTP_X_CARTASSIST_TIMESTAMP": ts,
            "HTTP_X_CARTASSIST_SIGNATURE": good,
        },
    ]
    for headers in cases:
        response = client.get(target, **headers)
        assert response.status_code == 401, headers
        assert "outreach" not in response.json()


def test_query_string_is_signed(client: Client, site: Site) -> None:
    # given a signature over the path alone, or over another customer's query
    a_rescued_shopper(site, client)
    without_query = lookup(client, site, signed_target=PATH, customer_id="C-1")
    swapped = lookup(client, site, signed_target=f"{PATH}?customer_id=C-2", customer_id="C-1")
    # then
    assert without_query.status_code == swapped.status_code == 401


def test_a_signature_is_accepted_once(client: Client, site: Site) -> None:
    target = f"{PATH}?visitor_id=visitor-1"
    ts = str(int(time.time()))
    headers = {
        "HTTP_X_CARTASSIST_KEY": site.public_key,
        "HTTP_X_CARTASSIST_TIMESTAMP": ts,
        "HTTP_X_CARTASSIST_SIGNATURE": sign(site.secret, ts, f"GET {target}".encode()),
    }
    assert client.get(target, **headers).status_code == 200
    replayed = client.get(target, **headers)
    assert replayed.status_code == 401
    assert "replay" in json.dumps(replayed.json())


def test_signed_post_refused_when_the_body_changed(client: Client, site: Site) -> None:
    a_rescued_shopper(site, client)
    ts = _timestamp()
    signed = json.dumps({"customer_id": "C-2"}).encode()
    response = client.post(
        PATH,
        json.dumps({"customer_id": "C-1"}),
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(site.secret, ts, signed),
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "customer_id"),
        ({"customer_id": "C-1", "email": "a@example.com"}, "email"),
        ({"name": "Ada"}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "030 1234567"}, "phone"),
        ({"visitor_id": "a b"}, "visitor_id"),
    ],
)
def test_exactly_one_valid_key(client: Client, site: Site, query: dict, field: str) -> None:
    get = lookup(client, site, **query)
    post = lookup_post(client, site, query)
    for response in (get, post):
        assert response.status_code == 400
        assert field in response.json()["errors"]


def test_repeated_parameter_and_non_string_value_are_refused(client: Client, site: Site) -> None:
    target = f"{PATH}?customer_id=C-1&customer_id=C-2"
    ts = _timestamp()
    repeated = client.get(
        target,
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(site.secret, ts, f"GET {target}".encode()),
    )
    assert repeated.status_code == 400
    assert repeated.json()["errors"] == {"customer_id": ["Send this parameter once."]}
    number = lookup_post(client, site, {"customer_id": 17})
    assert number.status_code == 400
    assert number.json()["errors"] == {"customer_id": ["Send a string."]}


def test_lookup_stores_nothing(client: Client, site: Site) -> None:
    lookup(client, site, email="new@example.com")
    lookup_post(client, site, {"phone": "+49301234567"})
    assert ContactIdentity.objects.count() == 0
    assert Cart.objects.count() == 0


def test_the_schema_documents_the_lookup_and_the_new_fields(client: Client) -> None:
    schema = json.loads(client.get("/api/schema/", {"format": "json"}).content)
    lookup_path = schema["paths"]["/api/v1/server/outreach"]
    assert lookup_path["get"]["operationId"] == "server_outreach_lookup"
    assert {p["name"] for p in lookup_path["get"]["parameters"]} >= {
        "customer_id",
        "visitor_id",
        "email",
        "phone",
        "X-CartAssist-Signature",
    }
    assert lookup_path["post"]["requestBody"]["required"] is True
    assert set(lookup_path["get"]["responses"]) == {"200", "400", "401", "503"}
    components = schema["components"]["schemas"]
    assert "summary" in components["LookupItem"]["properties"]
    assert {"email", "phone"} <= set(components["CartEventRequest"]["properties"])
    assert {"email", "phone", "resolution"} <= set(components["FollowUpRequest"]["properties"])
    assert "resolution" in components["FollowUpResult"]["properties"]
    assert "deflection" in components["AnalyticsFollowUps"]["properties"]
