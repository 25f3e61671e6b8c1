"""Grants, follow-ups, intervention outcomes and webhooks through the client, against the
real API (live_server) and the real webhook sender."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cartassist.carts.services.sites import site_secret_rotate
from cartassist.client import (
    ApiError,
    Event,
    GrantInfo,
    GrantRedemption,
    SignatureError,
    verify_webhook,
)
from cartassist.models import FollowUpContact, HelpdeskCapacity, WebhookEndpoint
from policies.models import Grant
from policies.services.grants import grant_token
from policies.services.offers import offer_accept, offer_authorize
from tests.cartassist.webhook_receiver import WebhookReceiver
from tests.fixtures.policies import make_chat, make_policy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("chat_settings")]


def granted(site, visitor_id: str = "visitor-1") -> tuple[Grant, str]:
    """An accepted offer's grant, as tests/policies/test_grants.py makes one."""
    make_policy(site)
    chat = make_chat(site, visitor_id=visitor_id)
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount="9.90",
        now=timezone.now(),
    )
    offer_accept(site_id=site.pk, visitor_id=visitor_id, offer_id=offer.pk, now=timezone.now())
    grant = Grant.objects.select_related("cart").get(offer=offer)
    return grant, grant_token(grant)


# --- grants ---------------------------------------------------------------------------------


def test_grant_verify_describes_the_grant_typed(ca, site):
    # given
    grant, token = granted(site)
    # when
    info = ca.grant_verify(token)
    # then
    assert info == GrantInfo(
        id=grant.token_id,
        valid=True,
        kind="waive_delivery",
        amount=Decimal("9.90"),
        currency="EUR",
        cart_id=grant.cart.external_id,
        expires_at=grant.expires_at,
        redeemed=False,
        order_id="",
    )
    assert (info.status, info.remedy) == ("valid", "waive_delivery")
    grant.refresh_from_db()
    assert grant.redeemed_at is None


def test_grant_redeem_is_idempotent_per_order_and_refuses_another(ca, site):
    # given
    grant, token = granted(site)
    # when: redeemed, then retried (same body: the client signs it in a later second)
    first = ca.grant_redeem(token, order_id="ord-1", idempotency_key="key-1")
    again = ca.grant_redeem(token, order_id="ord-1", idempotency_key="key-1")
    # then
    assert isinstance(first, GrantRedemption)
    assert (first.redeemed, first.order_id, first.replayed, first.status) == (
        True,
        "ord-1",
        False,
        "redeemed",
    )
    assert (again.replayed, again.order_id, again.amount) == (True, "ord-1", Decimal("9.90"))
    grant.refresh_from_db()
    assert (grant.order_id, grant.idempotency_key) == ("ord-1", "key-1")
    # and another order is refused with the server's code
    with pytest.raises(ApiError) as raised:
        ca.grant_redeem(token, order_id="ord-2")
    assert (raised.value.status, raised.value.code) == (409, "already_redeemed")
    assert "ord-1" in raised.value.detail


def test_an_altered_grant_token_is_refused(ca, site):
    # given
    _, token = granted(site)
    # when
    with pytest.raises(ApiError) as raised:
        ca.grant_verify(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    # then
    assert (raised.value.status, raised.value.code) == (403, "invalid_token")


# --- follow-ups and outcomes ------------------------------------------------------------------


def test_a_follow_up_is_reported_once_and_credited_to_the_outreach(ca, site):
    # given: the shopper was invited (make_chat records an invited intervention)
    grant, _ = granted(site)
    intervention = grant.cart.interventions.get()
    contact = {
        "id": "zendesk-1",
        "channel": "email",
        "reason": "checking_genuine",
        "occurred_at": datetime.now(UTC),
        "visitor_id": "visitor-1",
        "note": "Was the chat really from you?",
    }
    # when
    first = ca.follow_up_report(**contact)
    again = ca.follow_up_report(**contact)
    # then
    assert (first.id, first.duplicate, first.intervention_id) == (
        "zendesk-1",
        False,
        intervention.pk,
    )
    assert (again.duplicate, again.intervention_id) == (True, intervention.pk)
    assert list(FollowUpContact.objects.values_list("key", "channel", "reason")) == [
        ("zendesk-1", "email", "checking_genuine")
    ]


def test_a_follow_up_with_a_bad_field_raises_the_field_error(ca):
    # when
    with pytest.raises(ApiError) as raised:
        ca.follow_up_report(
            id="zendesk-2",
            channel="pigeon",
            reason="other",
            occurred_at=datetime.now(UTC),
            customer_id="C-1",
        )
    # then
    assert raised.value.status == 400
    assert list(raised.value.errors) == ["channel"]
    assert FollowUpContact.objects.count() == 0


def test_the_helpdesk_reports_its_live_queue(ca, site):
    # when
    stored = ca.helpdesk_queue_report(open_contacts=7, capacity_override=3)
    # then
    assert (stored["open_contacts"], stored["capacity_override"]) == (7, 3)
    row = HelpdeskCapacity.objects.get(site=site)
    assert (row.open_contacts, row.capacity_override) == (7, 3)


def test_a_queue_report_with_a_bad_count_raises_the_field_error(ca):
    with pytest.raises(ApiError) as raised:
        ca.helpdesk_queue_report(open_contacts=-1)
    assert raised.value.status == 400
    assert list(raised.value.errors) == ["open_contacts"]
    assert HelpdeskCapacity.objects.count() == 0


def test_an_interventions_outcome_is_read_with_signed_gets(ca, site):
    # given
    grant, _ = granted(site)
    intervention = grant.cart.interventions.get()
    # when: the same GET twice (the second is signed in a later second: no replay)
    outcome = ca.intervention(intervention.pk)
    again = ca.intervention(intervention.pk)
    on_cart = ca.cart_interventions(grant.cart.external_id)
    # then
    assert outcome == again
    assert (outcome["id"], outcome["cart_id"], outcome["decision"]) == (
        intervention.pk,
        grant.cart.external_id,
        "invited",
    )
    assert [g["grant_id"] for g in outcome["grants"]] == [grant.token_id]
    assert outcome["grants"][0]["amount"] == "9.90"
    assert [i["id"] for i in on_cart] == [intervention.pk]
    with pytest.raises(ApiError) as raised:
        ca.intervention(intervention.pk + 1000)
    assert raised.value.status == 404


# --- webhooks ---------------------------------------------------------------------------------


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def redeemed_delivery(ca, site, receiver):
    """A real grant.redeemed delivery, sent by CartAssist after the client redeemed."""
    WebhookEndpoint.objects.create(site=site, url=receiver.url, events=["grant.redeemed"])
    grant, token = granted(site)
    ca.grant_redeem(token, order_id="ord-9")
    [request] = receiver.requests
    return grant, request


def test_a_real_webhook_delivery_verifies(ca, site, receiver):
    # given
    grant, request = redeemed_delivery(ca, site, receiver)
    # when
    event = verify_webhook(request.body, request.headers, site.secret)
    # then
    assert (event["id"], event["type"], event["site"]) == (
        request.headers["CartAssist-Delivery"],
        "grant.redeemed",
        site.public_key,
    )
    assert (event["data"]["grant_id"], event["data"]["order_id"]) == (grant.token_id, "ord-9")
    # and a WSGI environ (Django's request.META) works as the headers too
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in request.headers.items()}
    assert verify_webhook(request.body, meta, site.secret) == event


def test_a_tampered_webhook_is_refused(ca, site, receiver):
    # given
    _, request = redeemed_delivery(ca, site, receiver)
    tampered = request.body.replace(b"ord-9", b"ord-8")
    # then
    with pytest.raises(SignatureError, match="does not match"):
        verify_webhook(tampered, request.headers, site.secret)
    with pytest.raises(SignatureError, match="does not match"):
        verify_webhook(request.body, request.headers, "sk_another-secret")
    unsigned = {k: v for k, v in request.headers.items() if k.lower() != "cartassist-signature"}
    with pytest.raises(SignatureError):
        verify_webhook(request.body, unsigned, site.secret)


def test_an_old_webhook_is_refused(ca, site, receiver):
    # given
    _, request = redeemed_delivery(ca, site, receiver)
    signed_at = int(request.headers["CartAssist-Timestamp"])
    # then: within the tolerance it passes, beyond it (a captured, replayed request) not
    assert verify_webhook(request.body, request.headers, site.secret, now=signed_at + 300)
    with pytest.raises(SignatureError, match="300 s"):
        verify_webhook(request.body, request.headers, site.secret, now=signed_at + 301)
    with pytest.raises(SignatureError, match="60 s"):
        verify_webhook(request.body, request.headers, site.secret, tolerance=60, now=signed_at - 61)


def test_during_a_rotation_the_previous_secret_still_verifies(ca, site, receiver):
    # given: a delivery signed with the site secret, which is then rotated in admin
    _, request = redeemed_delivery(ca, site, receiver)
    old = site.secret
    site = site_secret_rotate(site=site)
    # then: the shop accepts current and previous secrets during the rotation
    assert verify_webhook(request.body, request.headers, [site.secret, old])["type"] == (
        "grant.redeemed"
    )
    with pytest.raises(SignatureError):
        verify_webhook(request.body, request.headers, [site.secret])


def test_a_signed_body_that_is_not_an_object_is_refused():
    # given: correctly signed, but a list
    from cartassist.client import sign

    body = json.dumps([1, 2]).encode()
    ts = str(int(time.time()))
    headers = {"CartAssist-Timestamp": ts, "CartAssist-Signature": sign("sk_s", ts, body)}
    # then
    with pytest.raises(SignatureError, match="object"):
        verify_webhook(body, headers, "sk_s")


def test_a_rotated_site_secret_keeps_signing_requests_during_the_grace_period(make_client, site):
    # given: a shop still configured with the previous secret
    old = site.secret
    site_secret_rotate(site=site)
    stale = make_client(secret=old)
    # when
    result = stale.follow_up_report(
        id="c-1",
        channel="phone",
        reason="other",
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        customer_id="C-1",
    )
    # then
    assert result.duplicate is False


def test_identical_requests_from_several_threads_are_all_accepted(ca, site):
    # given: three checkouts verify the same grant at once (identical bodies)
    from concurrent.futures import ThreadPoolExecutor

    grant, token = granted(site)
    # when
    with ThreadPoolExecutor(max_workers=3) as pool:
        infos = list(pool.map(ca.grant_verify, [token] * 3))
    # then: the client signed each in its own second, so none was refused as a replay
    assert [info.id for info in infos] == [grant.token_id] * 3


def test_the_documented_journey_end_to_end(ca, site, receiver):
    """docs/integrations/python-client.md, "End to end": the grant is verified and
    redeemed, the order reported, and CartAssist credits the conversion with its cost."""
    # given: a shopper who stalled over the 9.90 delivery charge and accepted free delivery
    WebhookEndpoint.objects.create(site=site, url=receiver.url, events=["conversion.attributed"])
    grant, token = granted(site)
    cart = grant.cart.external_id
    # when: the shop backend applies and redeems the grant and reports the order
    info = ca.grant_verify(token)
    shipping = Decimal("9.90") - info.amount
    ca.grant_redeem(token, order_id="A-1042", idempotency_key="order-A-1042")
    ca.send_events(
        [
            Event(
                type="order_completed",
                cart_id=cart,
                visitor_id="visitor-1",
                data={
                    "order_id": "A-1042",
                    "currency": "EUR",
                    "total": Decimal("60.00") + shipping,
                },
            )
        ]
    )
    # then: the webhook tells the shop, and the outcome has the revenue and the remedy cost
    [request] = receiver.requests
    event = verify_webhook(request.body, request.headers, site.secret)
    assert (event["type"], event["data"]["order_id"]) == ("conversion.attributed", "A-1042")
    outcome = ca.intervention(event["data"]["intervention_id"])
    assert (outcome["revenue"], outcome["remedy_cost"], outcome["net_revenue"]) == (
        "60.00",
        "9.90",
        "50.10",
    )
    assert outcome["conversion"]["order_id"] == "A-1042"
