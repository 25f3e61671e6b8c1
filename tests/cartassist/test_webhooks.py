"""Webhooks to the shop backend (docs/WEBHOOKS.md), delivered to a real HTTP receiver on
127.0.0.1: signed with the documented recipe, retried with back-off, queued once, never
sent twice at the same time, given up after the maximum attempts, logged in admin, and
emitted by the sweep, agent reach-outs and grants with the documented fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.services.invitations import invitation_reach_out
from cartassist.demo.seed import groups_ensure
from cartassist.domain.webhooks import retry_delay, webhook_body
from cartassist.flows.sweep import stall_sweep
from cartassist.models import (
    DeliveryStatus,
    Intervention,
    Site,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from cartassist.webhooks.services import (
    webhook_deliver,
    webhook_lease,
    webhooks_emit,
    webhooks_redeliver_due,
)
from policies.models import Grant
from policies.services.grants import grant_redeem, grant_token
from policies.services.offers import offer_accept, offer_authorize
from tests.fixtures.agents import make_agent, make_stalled_cart
from tests.fixtures.policies import make_chat, make_policy

from .webhook_receiver import WebhookReceiver, documented_verifier

pytestmark = pytest.mark.django_db

MIDDLE = 0.5  # jitter at the middle of its range: the scheduled wait exactly


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def fast_settings(settings: Any, chat_settings: None) -> None:
    settings.CARTASSIST_WEBHOOK_TIMEOUT = timedelta(seconds=5)


def subscribe(site: Site, url: str, events: list[str] | None = None, **extra: Any):
    return WebhookEndpoint.objects.create(
        site=site, url=url, events=events or [e.value for e in WebhookEvent], **extra
    )


def emit(site: Site, now: datetime, key: str = "grant:g1", **overrides: Any) -> int:
    values: dict[str, Any] = {
        "site_id": site.pk,
        "event": WebhookEvent.GRANT_ISSUED,
        "dedupe_key": key,
        "data": {"grant_id": key, "amount": Decimal("9.90"), "expires_at": now},
        "now": now,
    }
    values.update(overrides)
    return webhooks_emit(**values)


def state(delivery: WebhookDelivery) -> tuple[Any, ...]:
    delivery.refresh_from_db()
    return (delivery.status, delivery.attempts, delivery.response_status, delivery.next_attempt_at)


# --- (a) the signature --------------------------------------------------------------------


def test_a_delivery_verifies_with_the_documented_recipe(
    site, receiver, fast_settings, django_capture_on_commit_callbacks
):
    # given
    subscribe(site, receiver.url)
    now = timezone.now()
    verify = documented_verifier()
    # when: queued in a transaction, sent once it commits
    with django_capture_on_commit_callbacks(execute=True):
        queued = emit(site, now)
    # then
    delivery = WebhookDelivery.objects.get()
    assert queued == 1
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)
    [request] = receiver.requests
    assert request.path == "/hooks/cartassist"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["CartAssist-Delivery"] == str(delivery.delivery_id)
    assert request.headers["CartAssist-Event"] == "grant.issued"
    assert verify(site.secret, request.headers, request.body) is True
    assert json.loads(request.body) == {
        "id": str(delivery.delivery_id),
        "type": "grant.issued",
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "site": site.public_key,
        "data": {
            "grant_id": "grant:g1",
            "amount": "9.90",
            "expires_at": now.isoformat().replace("+00:00", "Z"),
        },
    }
    # and the recipe refuses what it should: another secret, an altered body, an old stamp
    assert verify("sk_other", request.headers, request.body) is False
    assert verify(site.secret, request.headers, request.body.replace(b"9.90", b"99.0")) is False
    stale = {**request.headers, "CartAssist-Timestamp": str(int(now.timestamp()) - 301)}
    assert verify(site.secret, stale, request.body) is False


# --- (b) retries with back-off ---------------------------------------------------------------


def test_a_failing_endpoint_is_retried_with_back_off_until_delivered(site, receiver, fast_settings):
    # given: the endpoint answers 500 first, then its port is closed
    subscribe(site, receiver.url)
    t0 = timezone.now()
    emit(site, t0)
    delivery = WebhookDelivery.objects.get()
    receiver.fail_next(1, status=500)
    # when: the first attempt
    first = webhook_deliver(delivery_id=delivery.delivery_id, now=t0, jitter=MIDDLE)
    # then: retried in 30 s
    assert first is not None
    assert (first.status, first.attempts, first.response_status) == ("retrying", 1, 500)
    assert first.retry_in == timedelta(seconds=30)
    assert state(delivery) == ("retrying", 1, 500, t0 + timedelta(seconds=30))
    assert delivery.last_error == "HTTP 500"
    # when: called again before it is due
    early = webhook_deliver(delivery_id=delivery.delivery_id, now=t0 + timedelta(seconds=29))
    # then: nothing is sent
    assert early is None
    assert len(receiver.requests) == 1
    # when: the second attempt finds the port closed
    receiver.stop()
    t1 = t0 + timedelta(seconds=30)
    second = webhook_deliver(delivery_id=delivery.delivery_id, now=t1, jitter=MIDDLE)
    # then: retried in 2 min
    assert second is not None
    assert (second.status, second.attempts, second.response_status) == ("retrying", 2, None)
    assert state(delivery) == ("retrying", 2, None, t1 + timedelta(minutes=2))
    assert "refused" in delivery.last_error.lower()
    # when: the endpoint is back and the redelivery pass runs once the retry is due
    receiver.start()
    with time_machine.travel(t1 + timedelta(minutes=2, seconds=1), tick=False):
        dispatched = webhooks_redeliver_due(now=timezone.now())
    # then: delivered on the third attempt, with the same delivery id and body every time
    assert dispatched == 1
    assert state(delivery)[:3] == ("delivered", 3, 200)
    assert delivery.last_error == ""
    assert receiver.delivery_ids() == [str(delivery.delivery_id)] * 2
    assert [r.answered for r in receiver.requests] == [500, 200]
    assert receiver.requests[0].body == receiver.requests[1].body == webhook_body(delivery.payload)


def test_the_retry_schedule_backs_off_with_jitter_and_a_cap():
    waits = [retry_delay(n, jitter=MIDDLE) for n in range(1, 10)]
    assert waits == [
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(hours=12),
        timedelta(hours=24),
        timedelta(hours=24),
        timedelta(hours=24),
    ]
    assert retry_delay(1, jitter=0) == timedelta(seconds=27)
    assert retry_delay(1, jitter=0.999) < timedelta(seconds=33)
    with pytest.raises(ValueError, match="starts at 1"):
        retry_delay(0, jitter=MIDDLE)


# --- (c) queued once, distinct ids -------------------------------------------------------------


def test_an_event_emitted_twice_is_queued_once_and_distinct_events_get_distinct_ids(
    site, receiver, fast_settings, django_capture_on_commit_callbacks
):
    # given: two subscribed endpoints, one switched off, one for another event only
    second = WebhookReceiver()
    second.start()
    try:
        subscribe(site, receiver.url)
        subscribe(site, second.url, events=[WebhookEvent.GRANT_ISSUED])
        subscribe(site, receiver.url + "/off", active=False)
        subscribe(site, receiver.url + "/other", events=[WebhookEvent.CONVERSION_ATTRIBUTED])
        now = timezone.now()
        # when
        with django_capture_on_commit_callbacks(execute=True):
            first = emit(site, now)
            again = emit(site, now + timedelta(seconds=5))
            redeemed = emit(site, now, event=WebhookEvent.GRANT_REDEEMED)
            other = emit(site, now, key="grant:g2")
        # then
        assert (first, again, redeemed, other) == (2, 0, 1, 2)
        rows = list(WebhookDelivery.objects.values_list("event", "dedupe_key", "endpoint__url"))
        assert sorted(rows) == sorted(
            [
                ("grant.issued", "grant:g1", receiver.url),
                ("grant.issued", "grant:g1", second.url),
                ("grant.redeemed", "grant:g1", receiver.url),
                ("grant.issued", "grant:g2", receiver.url),
                ("grant.issued", "grant:g2", second.url),
            ]
        )
        ids = receiver.delivery_ids() + second.delivery_ids()
        assert len(ids) == len(set(ids)) == 5
        assert set(ids) == {
            str(i) for i in WebhookDelivery.objects.values_list("delivery_id", flat=True)
        }
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    finally:
        second.stop()


def test_no_subscribed_endpoint_queues_nothing(site, receiver):
    subscribe(site, receiver.url, events=[WebhookEvent.INTERVENTION_CREATED])
    assert emit(site, timezone.now()) == 0
    assert not WebhookDelivery.objects.exists()


# --- (d) giving up ------------------------------------------------------------------------------


def test_a_delivery_fails_for_good_after_the_maximum_attempts(
    site, receiver, fast_settings, settings
):
    # given
    settings.CARTASSIST_WEBHOOK_MAX_ATTEMPTS = 2
    subscribe(site, receiver.url)
    t0 = timezone.now()
    emit(site, t0)
    delivery = WebhookDelivery.objects.get()
    receiver.fail_next(5, status=503)
    # when
    webhook_deliver(delivery_id=delivery.delivery_id, now=t0, jitter=MIDDLE)
    last = webhook_deliver(
        delivery_id=delivery.delivery_id, now=t0 + timedelta(seconds=30), jitter=MIDDLE
    )
    later = webhook_deliver(delivery_id=delivery.delivery_id, now=t0 + timedelta(days=3))
    # then
    assert last is not None
    assert (last.status, last.attempts, last.retry_in) == ("failed", 2, None)
    assert later is None
    assert state(delivery)[:3] == ("failed", 2, 503)
    assert delivery.last_error == "HTTP 503"
    assert len(receiver.requests) == 2
    assert webhooks_redeliver_due(now=t0 + timedelta(days=3)) == 0


def test_non_http_urls_are_never_called(site, receiver, fast_settings):
    subscribe(site, "ftp://127.0.0.1/hooks")
    now = timezone.now()
    emit(site, now)
    delivery = WebhookDelivery.objects.get()
    result = webhook_deliver(delivery_id=delivery.delivery_id, now=now)
    assert result is not None
    assert (result.status, result.attempts) == ("failed", 1)
    delivery.refresh_from_db()
    assert delivery.last_error == "Refused: webhooks are sent to http(s) URLs only."


# --- (e) one attempt at a time ------------------------------------------------------------------


def test_a_claimed_delivery_is_not_sent_again_until_its_lease_runs_out(
    site, receiver, fast_settings
):
    # given: another worker claimed the delivery (status sending, attempt 1 under way)
    subscribe(site, receiver.url)
    t0 = timezone.now()
    emit(site, t0)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, last_attempt_at=t0
    )
    # when: a second worker, and the redelivery pass within the lease
    second = webhook_deliver(delivery_id=delivery.delivery_id, now=t0)
    passed = webhooks_redeliver_due(now=t0 + webhook_lease() - timedelta(seconds=1))
    # then: nothing sent, nothing changed
    assert (second, passed) == (None, 0)
    assert receiver.requests == []
    assert state(delivery)[:2] == ("sending", 1)
    # when: the first worker died; the lease runs out
    with time_machine.travel(t0 + webhook_lease() + timedelta(seconds=1), tick=False):
        taken_back = webhooks_redeliver_due(now=timezone.now())
    # then: sent once more, as the second attempt
    assert taken_back == 1
    assert state(delivery)[:3] == ("delivered", 2, 200)
    assert receiver.delivery_ids() == [str(delivery.delivery_id)]


def test_the_claim_lets_one_of_two_callers_send(site, receiver, fast_settings):
    # given
    subscribe(site, receiver.url)
    now = timezone.now()
    emit(site, now)
    delivery = WebhookDelivery.objects.get()
    # when
    results = [webhook_deliver(delivery_id=delivery.delivery_id, now=now) for _ in range(2)]
    # then
    assert [r.status if r else None for r in results] == ["delivered", None]
    assert len(receiver.requests) == 1


# --- (f) admin ------------------------------------------------------------------------------------


@pytest.fixture
def merchandiser_client(client, fast_settings):
    from django.contrib.auth.models import User

    user = User.objects.create_user("merch", password="pw", is_staff=True)
    user.groups.add(groups_ensure()["Merchandisers"])
    client.force_login(user)
    return client


def test_merchandisers_add_an_endpoint_with_event_checkboxes(site, merchandiser_client):
    # when: a non-http URL and no events, then a valid form
    refused = merchandiser_client.post(
        "/admin/cartassist/webhookendpoint/add/",
        {"site": site.pk, "url": "ftp://shop.example/hooks", "active": "on"},
    )
    added = merchandiser_client.post(
        "/admin/cartassist/webhookendpoint/add/",
        {
            "site": site.pk,
            "url": "https://shop.example/hooks",
            "events": ["grant.redeemed", "intervention.created"],
            "active": "on",
        },
    )
    page = merchandiser_client.get("/admin/cartassist/webhookendpoint/add/")
    # then
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "url": ["Use an https:// (or http://) URL."],
        "events": ["This field is required."],
    }
    assert added.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.events, endpoint.active) == (
        "https://shop.example/hooks",
        ["intervention.created", "grant.redeemed"],
        True,
    )
    assert page.status_code == 200
    assert page.content.count(b'type="checkbox" name="events"') == len(WebhookEvent)  # 5


def test_the_delivery_log_lists_shows_and_retries_deliveries(
    site, receiver, merchandiser_client, django_capture_on_commit_callbacks
):
    # given: a delivery that gave up
    endpoint = subscribe(site, receiver.url)
    now = timezone.now()
    emit(site, now)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, attempts=8, response_status=502, last_error="HTTP 502"
    )
    # when
    listing = merchandiser_client.get("/admin/cartassist/webhookdelivery/?status__exact=failed")
    detail = merchandiser_client.get(f"/admin/cartassist/webhookdelivery/{delivery.pk}/change/")
    endpoint_page = merchandiser_client.get(
        f"/admin/cartassist/webhookendpoint/{endpoint.pk}/change/"
    )
    with django_capture_on_commit_callbacks(execute=True):
        retried = merchandiser_client.post(
            "/admin/cartassist/webhookdelivery/",
            {"action": "retry_now", "_selected_action": [delivery.pk]},
            follow=True,
        )
    # then
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [delivery]
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "HTTP 502" in html
    assert f"&quot;id&quot;: &quot;{delivery.delivery_id}&quot;" in html  # pretty JSON
    assert 'name="_save"' not in html  # read-only
    assert endpoint_page.status_code == 200
    assert f"?endpoint__id__exact={endpoint.pk}" in endpoint_page.content.decode()
    assert retried.status_code == 200
    assert "Queued 1 delivery again." in retried.content.decode()
    assert state(delivery)[:3] == ("delivered", 9, 200)
    assert receiver.delivery_ids() == [str(delivery.delivery_id)]


def test_staff_without_the_endpoint_permission_cannot_retry(site, client, fast_settings):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(user)
    subscribe(site, "https://shop.example/hooks")
    emit(site, timezone.now())
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    # when
    listing = client.get("/admin/cartassist/webhookdelivery/")
    client.post(
        "/admin/cartassist/webhookdelivery/",
        {"action": "retry_now", "_selected_action": [delivery.pk]},
    )
    # then
    assert listing.status_code == 200
    assert b"retry_now" not in listing.content
    assert state(delivery)[0] == "failed"


# --- (g) who emits what ---------------------------------------------------------------------------


def test_the_sweep_emits_intervention_created_for_every_decision(site, receiver, fast_settings):
    # given: two stalled carts, and no agent available (suppressed is a decision too)
    subscribe(site, receiver.url, events=[WebhookEvent.INTERVENTION_CREATED])
    now = timezone.now()
    first = make_stalled_cart(site, visitor_id="v-1", now=now)
    second = make_stalled_cart(site, visitor_id="v-2", subtotal="80.00", now=now)
    Site.objects.filter(pk=site.pk).update(agents_available=False)
    # when
    stall_sweep(now=now)
    stall_sweep(now=now)  # nothing left to decide: nothing new queued
    # then
    deliveries = {d.payload["data"]["cart"]: d for d in WebhookDelivery.objects.all()}
    assert set(deliveries) == {first.external_id, second.external_id}
    intervention = Intervention.objects.get(cart=first)
    payload = deliveries[first.external_id].payload
    assert payload["type"] == "intervention.created"
    assert payload["site"] == site.public_key
    assert payload["data"] == {
        "intervention_id": intervention.pk,
        "cart": first.external_id,
        "visitor_id": "v-1",
        "trigger": "sweep",
        "decision": "suppressed",
        "suppression_reason": "no_agent_available",
        "stall_reason": "shipping_shock",
        "urgency": intervention.urgency,
        "cart_value": "60.00",
        "currency": "EUR",
        "decided_at": now.isoformat().replace("+00:00", "Z"),
    }
    assert deliveries[first.external_id].dedupe_key == f"intervention:{intervention.pk}"
    assert deliveries[second.external_id].payload["data"]["cart_value"] == "80.00"


def test_a_sweep_without_endpoints_asks_once_and_queues_nothing(site, fast_settings):
    # given: an endpoint for another event only
    subscribe(site, "https://shop.example/hooks", events=[WebhookEvent.GRANT_ISSUED])
    now = timezone.now()
    for n in range(3):
        make_stalled_cart(site, visitor_id=f"v-{n}", now=now)
    # when
    with CaptureQueriesContext(connection) as captured:
        result = stall_sweep(now=now)
    # then
    webhook_queries = [q["sql"] for q in captured if "webhook" in q["sql"]]
    assert result.claimed == 3
    assert len(webhook_queries) == 1
    assert "cartassist_webhookendpoint" in webhook_queries[0]
    assert not WebhookDelivery.objects.exists()


def test_an_agent_reach_out_emits_intervention_created(site, receiver, fast_settings):
    subscribe(site, receiver.url, events=[WebhookEvent.INTERVENTION_CREATED])
    now = timezone.now()
    agent = make_agent(site, now=now)
    cart = make_stalled_cart(site, now=now)
    # when
    invitation_reach_out(agent=agent, cart_id=cart.pk, now=now)
    # then
    delivery = WebhookDelivery.objects.get()
    data = delivery.payload["data"]
    assert (data["intervention_id"], data["cart"], data["trigger"], data["decision"]) == (
        Intervention.objects.get(cart=cart).pk,
        cart.external_id,
        "agent",
        "invited",
    )
    assert data["suppression_reason"] is None


def test_grants_emit_issued_and_redeemed_once(site, receiver, fast_settings):
    # given
    subscribe(site, receiver.url, events=[WebhookEvent.GRANT_ISSUED, WebhookEvent.GRANT_REDEEMED])
    policy = make_policy(site)
    chat = make_chat(site)
    now = timezone.now()
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount="9.90",
        now=now,
    )
    # when: accepted (issued), redeemed, redeemed again for the same order (a replay)
    offer_accept(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=now)
    grant = Grant.objects.select_related("cart", "policy_version").get(offer=offer)
    token = grant_token(grant)
    later = now + timedelta(minutes=5)
    for _ in range(2):
        grant_redeem(site=site, token=token, order_id="ord-7", idempotency_key="", now=later)
    # then
    issued = WebhookDelivery.objects.get(event="grant.issued")
    redeemed = WebhookDelivery.objects.get(event="grant.redeemed")
    expected = {
        "grant_id": grant.token_id,
        "cart": chat.cart.external_id,
        "kind": "waive_delivery",
        "amount": "9.90",
        "currency": "EUR",
        "policy_id": policy.pk,
        "policy_version": grant.policy_version.number,
        "issued_at": grant.issued_at.isoformat().replace("+00:00", "Z"),
        "expires_at": grant.expires_at.isoformat().replace("+00:00", "Z"),
    }
    assert issued.payload["data"] == expected
    assert redeemed.payload["data"] == {
        **expected,
        "order_id": "ord-7",
        "redeemed_at": later.isoformat().replace("+00:00", "Z"),
    }
    assert WebhookDelivery.objects.count() == 2
