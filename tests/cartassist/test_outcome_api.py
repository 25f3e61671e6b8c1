"""The shop backend reads one intervention's outcome (signed GET; cartassist/api/outcomes.py,
docs/API.md "Intervention outcomes")."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from agents.models import Invitation
from cartassist.client import request_target, sign
from cartassist.models import Cart, FollowUpContact, Intervention, Site
from cartassist.outcomes.services.followups import follow_up_report
from cartassist.outcomes.services.outcomes import outcomes_refresh_for_carts
from policies.models import Grant, Offer
from policies.services.grants import grant_redeem, grant_token
from policies.services.offers import offer_accept, offer_authorize
from tests.fixtures.agents import make_intervention, make_stalled_cart
from tests.fixtures.carts import iso
from tests.fixtures.policies import make_chat, make_policy
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

HOUR = timedelta(hours=1)
_steps = itertools.count(0)


def signed_get(
    client: Client, site: Site, path: str, *, signed_path: str | None = None, secret: str = ""
) -> Any:
    # Each request its own timestamp: a signature is accepted once.
    ts = str(int(time.time()) - 200 + next(_steps) % 150)
    target = request_target("GET", signed_path or path)
    return client.get(
        path,
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(secret or site.secret, ts, target),
    )


def a_whole_story(site: Site) -> tuple[Intervention, dict[str, Any]]:
    """An invited shopper who chatted, saw two offers, accepted one (9.90 off delivery),
    ordered for 69.90 with the grant redeemed, and then asked the helpdesk about it."""
    now = timezone.now()
    make_policy(site, reduce_delivery=True, reduce_delivery_max_amount=Decimal("5.00"))
    chat = make_chat(site, now=now - 2 * HOUR)
    declined = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="reduce_delivery",
        amount="5.00",
        now=now - 2 * HOUR,
    )
    Offer.objects.filter(pk=declined.pk).update(status="declined", responded_at=now - 2 * HOUR)
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount="9.90",
        now=now - 2 * HOUR,
    )
    offer_accept(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=now - 2 * HOUR)
    grant = Grant.objects.get(offer=offer)
    Cart.objects.filter(pk=chat.cart.pk).update(
        status="converted", order_id="ord-77", order_total=Decimal("69.90"), converted_at=now - HOUR
    )
    grant_redeem(
        site=site, token=grant_token(grant), order_id="ord-77", idempotency_key="", now=now - HOUR
    )
    follow_up_report(
        site=site,
        key="zendesk-1",
        channel="email",
        reason="needed_confirmation",
        visitor_id="visitor-1",
        customer_id="",
        occurred_at=now - HOUR / 2,
        note="Is the free delivery applied?",
        now=now,
    )
    Invitation.objects.filter(intervention__cart=chat.cart).update(
        status="accepted", delivered_at=now - 2 * HOUR, responded_at=now - 2 * HOUR
    )
    outcomes_refresh_for_carts(cart_ids=[chat.cart.pk], now=now)
    intervention = Intervention.objects.get(cart=chat.cart)
    grant.refresh_from_db()
    offer.refresh_from_db()
    declined.refresh_from_db()
    return intervention, {
        "id": intervention.pk,
        "cart_id": chat.cart.external_id,
        "visitor_id": "visitor-1",
        "trigger": "sweep",
        "decided_at": iso(intervention.decided_at),
        "decision": "invited",
        "suppression_reason": "",
        "stall_reason": "shipping_shock",
        "stage": "shipping",
        "urgency": intervention.urgency,
        "cart_value": "60.00",
        "currency": "EUR",
        "invitation_result": "accepted",
        "chat": {
            "agent": "Ada",
            "first_response_seconds": None,
            "duration_seconds": None,
            "visitor_messages": 0,
            "agent_messages": 0,
        },
        "offers": [
            {
                "id": declined.pk,
                "kind": "reduce_delivery",
                "amount": "5.00",
                "currency": "EUR",
                "status": "declined",
                "total_before": "69.90",
                "total_after": "64.90",
                "offered_at": iso(declined.created_at),
                "responded_at": iso(declined.responded_at),
            },
            {
                "id": offer.pk,
                "kind": "waive_delivery",
                "amount": "9.90",
                "currency": "EUR",
                "status": "accepted",
                "total_before": "69.90",
                "total_after": "60.00",
                "offered_at": iso(offer.created_at),
                "responded_at": iso(offer.responded_at),
            },
        ],
        "grants": [
            {
                "grant_id": grant.token_id,
                "offer_id": offer.pk,
                "kind": "waive_delivery",
                "amount": "9.90",
                "currency": "EUR",
                "issued_at": iso(grant.issued_at),
                "expires_at": iso(grant.expires_at),
                "redeemed_at": iso(grant.redeemed_at),
                "order_id": "ord-77",
            }
        ],
        "conversion": {
            "converted": True,
            "order_id": "ord-77",
            "converted_at": iso(now - HOUR),
            "attribution": "same_cart",
        },
        "revenue": "69.90",
        "granted_amount": "9.90",
        "remedy_cost": "9.90",
        "net_revenue": "60.00",
        "follow_ups": [
            {
                "id": "zendesk-1",
                "source": "helpdesk",
                "channel": "email",
                "reason": "needed_confirmation",
                "occurred_at": iso(now - HOUR / 2),
            }
        ],
        "outcome_final": False,
        "outcome_updated_at": iso(intervention.outcome_updated_at),
    }


def test_an_intervention_reads_as_its_whole_story(client, site):
    # given
    intervention, expected = a_whole_story(site)
    # when
    response = signed_get(client, site, f"/api/v1/server/interventions/{intervention.pk}")
    # then
    assert response.status_code == 200, response.content
    assert response.json() == expected


def test_a_cart_reads_as_its_interventions_newest_first(client, site):
    # given: the story above, and a later suppressed decision on the same cart
    intervention, expected = a_whole_story(site)
    later = make_intervention(
        intervention.cart,
        now=timezone.now(),
        decision="suppressed",
        suppression_reason="quiet_hours",
    )
    # when
    cart_id = intervention.cart.external_id
    response = signed_get(client, site, f"/api/v1/server/carts/{cart_id}/interventions")
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cart_id"] == cart_id
    assert [i["id"] for i in body["interventions"]] == [later.pk, intervention.pk]
    assert body["interventions"][1] == expected
    assert body["interventions"][0]["suppression_reason"] == "quiet_hours"
    assert body["interventions"][0]["chat"] is None
    assert body["interventions"][0]["offers"] == []


def test_a_cart_that_never_stalled_has_no_interventions(client, site):
    make_stalled_cart(site, external_id="quiet-cart")
    response = signed_get(client, site, "/api/v1/server/carts/quiet-cart/interventions")
    assert (response.status_code, response.json()) == (
        200,
        {"cart_id": "quiet-cart", "interventions": []},
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/server/interventions/{id}", "/api/v1/server/carts/{cart}/interventions"]
)
def test_a_signature_is_required(client, site, path):
    # given
    intervention = make_intervention(make_stalled_cart(site))
    url = path.format(id=intervention.pk, cart=intervention.cart.external_id)
    # when: unsigned, signed with another secret, signed for another path, replayed
    unsigned = client.get(url)
    wrong_secret = signed_get(client, site, url, secret="sk_not_the_secret")
    other_path = signed_get(client, site, url, signed_path="/api/v1/server/interventions/999999")
    ts = str(int(time.time()))
    headers = {
        "HTTP_X_CARTASSIST_KEY": site.public_key,
        "HTTP_X_CARTASSIST_TIMESTAMP": ts,
        "HTTP_X_CARTASSIST_SIGNATURE": sign(site.secret, ts, request_target("GET", url)),
    }
    first = client.get(url, **headers)
    replayed = client.get(url, **headers)
    # then
    for response in (unsigned, wrong_secret, other_path, replayed):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'CartAssist-HMAC realm="api"'
        assert set(response.json()) == {"detail", "errors"}
    assert unsigned.json()["errors"] == {"X-CartAssist-Key": ["The site key is missing."]}
    assert other_path.json()["errors"] == {"X-CartAssist-Signature": ["Invalid signature."]}
    assert first.status_code == 200


def test_another_sites_data_is_never_visible(client, site):
    # given: an intervention on the other site's cart with the same cart id
    other = make_site(name="Other shop")
    theirs = make_intervention(make_stalled_cart(other, external_id="shared-id"))
    # when: this site asks for it, by id and by cart id, with its own valid signature
    by_id = signed_get(client, site, f"/api/v1/server/interventions/{theirs.pk}")
    by_cart = signed_get(client, site, "/api/v1/server/carts/shared-id/interventions")
    # then: the same answer as for ids that do not exist
    missing = signed_get(client, site, f"/api/v1/server/interventions/{theirs.pk + 1000}")
    assert (by_id.status_code, by_cart.status_code, missing.status_code) == (404, 404, 404)
    assert (
        by_id.json() == missing.json() == {"detail": "This site has no intervention with this id."}
    )
    assert by_cart.json() == {"detail": "This site has no cart with this id."}
    # and the owner reads it
    assert signed_get(client, other, f"/api/v1/server/interventions/{theirs.pk}").status_code == 200


@pytest.mark.parametrize(
    ("path", "signed_path", "field"),
    [
        ("/api/v1/server/interventions/abc", None, "intervention_id"),
        ("/api/v1/server/interventions/0", None, "intervention_id"),
        ("/api/v1/server/interventions/-4", None, "intervention_id"),
        ("/api/v1/server/interventions/99999999999999999999", None, "intervention_id"),
        (
            "/api/v1/server/interventions/٣",
            "/api/v1/server/interventions/%D9%A3",
            "intervention_id",
        ),
        (
            "/api/v1/server/carts/bad%20id/interventions",
            "/api/v1/server/carts/bad%20id/interventions",
            "cart_id",
        ),
        ("/api/v1/server/carts/" + "x" * 65 + "/interventions", None, "cart_id"),
    ],
)
def test_malformed_ids_get_field_errors(client, site, path, signed_path, field):
    before = (Intervention.objects.count(), FollowUpContact.objects.count())
    response = signed_get(client, site, path, signed_path=signed_path)
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == "Invalid input."
    assert list(response.json()["errors"]) == [field]
    assert (Intervention.objects.count(), FollowUpContact.objects.count()) == before
