"""Every intervention keeps its whole story: conversion within the attribution window,
revenue, remedy cost and follow-ups (docs/ANALYTICS.md, "Attribution")."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from agents.models import InvitationStatus, Message, Sender
from cartassist.client import sign
from cartassist.domain import outcomes
from cartassist.models import (
    Attribution,
    Cart,
    Decision,
    FollowUpContact,
    Intervention,
    InvitationResult,
    Site,
)
from cartassist.outcomes.services.outcomes import (
    outcomes_finalise,
    outcomes_refresh_for_carts,
    outcomes_refresh_for_interventions,
)
from policies.models import OfferStatus
from policies.services.grants import grant_redeem, grant_token
from policies.services.offers import offer_accept, offer_authorize
from tests.fixtures.agents import make_intervention, make_stalled_cart
from tests.fixtures.carts import EventPoster, iso, make_event
from tests.fixtures.policies import make_chat, make_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

HOUR = timedelta(hours=1)
_orders = itertools.count(1)


def stalled_at(site: Site, when: datetime, **kwargs: Any) -> tuple[Cart, Intervention]:
    cart = make_stalled_cart(site, now=when, **kwargs)
    return cart, make_intervention(cart, now=when, decision=kwargs.pop("decision", "invited"))


def order(
    post_events: EventPoster,
    django_capture_on_commit_callbacks: Any,
    *,
    cart: str,
    at: datetime,
    total: str = "74.90",
    visitor_id: str = "visitor-1",
    order_id: str | None = None,
    server: bool = False,
    event_id: str | None = None,
    **extra: Any,
) -> Any:
    event = make_event(
        "order_completed",
        cart_id=cart,
        visitor_id=visitor_id,
        occurred_at=iso(at),
        data={"order_id": order_id or f"ord-{next(_orders)}", "currency": "EUR", "total": total},
        **extra,
    )
    if event_id:
        event["id"] = event_id
    with django_capture_on_commit_callbacks(execute=True):
        response = (post_events.server if server else post_events.widget)([event])
    assert response.status_code == 200, response.content
    return response


def refreshed(intervention: Intervention) -> Intervention:
    intervention.refresh_from_db()
    return intervention


class TestConversion:
    def test_an_order_on_the_same_cart_within_the_window_converts_it(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        # Given an invited intervention two hours ago
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 2 * HOUR)
        # When the shopper completes the order an hour later (the event attaches it)
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart=cart.external_id,
            at=now - HOUR,
            total="74.90",
            order_id="ord-A",
        )
        # Then the intervention is credited with the order and its revenue
        outcome = refreshed(intervention)
        assert outcome.converted is True
        assert outcome.attribution == Attribution.SAME_CART
        assert outcome.order_id == "ord-A"
        assert outcome.revenue == Decimal("74.90")
        assert outcome.net_revenue == Decimal("74.90")
        assert outcome.converted_at == now.replace(microsecond=now.microsecond) - HOUR
        assert outcome.outcome_final is False  # the window is still open

    def test_an_order_after_the_window_does_not_count(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        # Given an intervention 30 hours ago and the default 24 h window
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 30 * HOUR)
        # When the order comes 29 hours after the intervention
        order(post_events, django_capture_on_commit_callbacks, cart=cart.external_id, at=now - HOUR)
        outcomes_finalise(now=now)
        # Then it is not credited, and the outcome is final
        outcome = refreshed(intervention)
        assert (outcome.converted, outcome.revenue, outcome.order_id) == (False, 0, "")
        assert outcome.outcome_final is True

    def test_the_window_is_per_site(self, site, post_events, django_capture_on_commit_callbacks):
        # Given a site with a 48 h attribution window
        site.attribution_window_hours = 48
        site.save()
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 30 * HOUR)
        # When the order comes 29 hours later
        order(post_events, django_capture_on_commit_callbacks, cart=cart.external_id, at=now - HOUR)
        outcomes_finalise(now=now)
        # Then it counts, and the outcome stays open until 48 h have passed
        outcome = refreshed(intervention)
        assert outcome.converted is True
        assert outcome.outcome_final is False
        outcomes_finalise(now=now + 19 * HOUR)
        assert refreshed(intervention).outcome_final is True

    def test_an_order_before_the_intervention_does_not_count(self, site):
        # Given a cart of the shopper that was ordered before the intervention
        now = timezone.now()
        earlier = make_stalled_cart(site, now=now - 5 * HOUR)
        Cart.objects.filter(pk=earlier.pk).update(
            status="converted",
            order_id="ord-early",
            order_total=Decimal("20.00"),
            converted_at=now - 4 * HOUR,
        )
        _, intervention = stalled_at(site, now - 2 * HOUR)
        # When the outcome is computed
        outcomes_refresh_for_interventions(intervention_ids=[intervention.pk], now=now)
        # Then nothing is credited
        assert refreshed(intervention).converted is False

    def test_an_order_by_the_same_shopper_on_a_new_cart_counts(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        # Given an invited intervention on cart A of visitor-1
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 3 * HOUR)
        # When the same visitor orders on a brand-new cart B
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart="cart-new-B",
            at=now - HOUR,
            total="30.00",
        )
        # Then the intervention on A is credited, as a same-shopper conversion
        outcome = refreshed(intervention)
        assert outcome.converted is True
        assert outcome.attribution == Attribution.SAME_SHOPPER
        assert outcome.revenue == Decimal("30.00")
        assert Cart.objects.get(pk=cart.pk).status == "stalled"

    def test_a_verified_customer_ordering_from_another_device_counts(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        # Given the stalled cart belongs to customer C-9 (signed), on visitor-1's browser
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 3 * HOUR)
        Cart.objects.filter(pk=cart.pk).update(customer_id="C-9", customer_verified=True)
        # When C-9 orders from a phone (another visitor id), reported by the shop backend
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart="phone-cart",
            visitor_id="visitor-phone",
            at=now - HOUR,
            server=True,
            customer_id="C-9",
        )
        # Then the intervention is credited
        outcome = refreshed(intervention)
        assert (outcome.converted, outcome.attribution) == (True, Attribution.SAME_SHOPPER)

    def test_another_shopper_ordering_does_not_count(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        now = timezone.now()
        _, intervention = stalled_at(site, now - 3 * HOUR)
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart="someone-else",
            visitor_id="visitor-2",
            at=now - HOUR,
        )
        assert refreshed(intervention).converted is False

    def test_a_held_out_cart_that_converts_is_tracked_the_same_way(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        # Given a cart in the control group: never invited
        now = timezone.now()
        cart = make_stalled_cart(site, now=now - 2 * HOUR)
        intervention = make_intervention(cart, now=now - 2 * HOUR, decision=Decision.HELD_OUT)
        # When it converts on its own
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart=cart.external_id,
            at=now - HOUR,
            total="60.00",
        )
        # Then the control group's conversion is recorded, with no invitation
        outcome = refreshed(intervention)
        assert outcome.decision == Decision.HELD_OUT
        assert (outcome.converted, outcome.revenue) == (True, Decimal("60.00"))
        assert outcome.invitation_result == ""
        assert outcome.remedy_cost == 0

    def test_one_order_is_credited_once_even_when_two_interventions_could_take_it(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        # Given two interventions of one shopper on two carts within a day
        now = timezone.now()
        cart_a, first = stalled_at(site, now - 5 * HOUR)
        cart_b, second = stalled_at(site, now - 3 * HOUR)
        # When the shopper orders cart A
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart=cart_a.external_id,
            at=now - HOUR,
            total="50.00",
        )
        # Then the same-cart intervention gets it, and the revenue is counted once
        assert refreshed(first).converted is True
        assert refreshed(second).converted is False
        total = sum(i.revenue for i in Intervention.objects.all())
        assert total == Decimal("50.00")


class TestDuplicates:
    def test_the_same_order_event_posted_twice_counts_once(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 2 * HOUR)
        for _ in range(2):
            order(
                post_events,
                django_capture_on_commit_callbacks,
                cart=cart.external_id,
                at=now - HOUR,
                total="74.90",
                order_id="ord-dup",
                event_id="evt-order-dup",
            )
        outcome = refreshed(intervention)
        assert (outcome.converted, outcome.order_id, outcome.revenue) == (
            True,
            "ord-dup",
            Decimal("74.90"),
        )
        assert Intervention.objects.filter(converted=True).count() == 1

    def test_one_order_reported_by_widget_and_shop_counts_once_at_the_shops_total(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        # Given the widget reports the order first with a wrong total
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 2 * HOUR)
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart=cart.external_id,
            at=now - HOUR,
            total="99.00",
            order_id="ord-X",
        )
        # When the shop backend reports the same order (another event id) with its total
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart=cart.external_id,
            at=now - HOUR + timedelta(seconds=5),
            total="74.90",
            order_id="ord-X",
            server=True,
        )
        # Then one conversion, at the signed total, at the first report's time
        outcome = refreshed(intervention)
        assert (outcome.order_id, outcome.revenue) == ("ord-X", Decimal("74.90"))
        assert outcome.converted_at == (now - HOUR).replace(microsecond=now.microsecond)


class TestRemedies:
    def test_a_grant_redeemed_on_the_order_is_the_remedy_cost(self, site):
        # Given a chat in which the shopper accepted waiving 9.90 of delivery
        now = timezone.now()
        policy = make_policy(site)
        chat = make_chat(site, now=now - HOUR)
        offer = offer_authorize(
            agent=chat.agent,
            conversation_id=chat.conversation.pk,
            kind="waive_delivery",
            amount="9.90",
            now=now - HOUR,
        )
        offer_accept(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=now - HOUR)
        intervention = Intervention.objects.get(cart=chat.cart)
        outcomes_refresh_for_carts(cart_ids=[chat.cart.pk], now=now)
        issued = refreshed(intervention)
        assert (issued.offers_made, issued.offer_accepted) == (1, True)
        assert (issued.remedy_kind, issued.policy_id) == ("waive_delivery", policy.pk)
        assert issued.policy_version_id == policy.current_version_id
        assert issued.granted_amount == Decimal("9.90")
        assert issued.remedy_cost == 0  # not given away until redeemed
        # When the shop orders at 60.00 and redeems the grant on that order
        grant = offer.grant
        Cart.objects.filter(pk=chat.cart.pk).update(
            status="converted", order_id="ord-G", order_total=Decimal("60.00"), converted_at=now
        )
        grant_redeem(
            site=site, token=grant_token(grant), order_id="ord-G", idempotency_key="", now=now
        )
        outcomes_refresh_for_carts(cart_ids=[chat.cart.pk], now=now)
        # Then the cost is the redeemed amount and the net is revenue minus cost
        outcome = refreshed(intervention)
        assert outcome.remedy_cost == Decimal("9.90")
        assert outcome.revenue == Decimal("60.00")
        assert outcome.net_revenue == Decimal("50.10")

    def test_chat_metrics_are_recorded(self, site):
        now = timezone.now()
        chat = make_chat(site, now=now - 2 * HOUR)
        conversation = chat.conversation
        # The invitation (seq 1, from the agent) is nobody's reply: not counted.
        Message.objects.create(
            conversation=conversation,
            seq=1,
            sender=Sender.AGENT,
            kind="invitation",
            client_message_id="@invitation-1",
            text="Questions?",
            created_at=now - 2 * HOUR,
        )
        for seq, sender in enumerate([Sender.VISITOR, Sender.AGENT, Sender.VISITOR], 2):
            Message.objects.create(
                conversation=conversation,
                seq=seq,
                sender=sender,
                client_message_id=f"m{seq}",
                text="hi",
                created_at=now - 2 * HOUR + timedelta(seconds=seq * 10),
            )
        type(conversation).objects.filter(pk=conversation.pk).update(
            first_agent_message_at=conversation.created_at + timedelta(seconds=20),
            closed_at=conversation.created_at + timedelta(minutes=5),
            status="closed",
        )
        outcomes_refresh_for_carts(cart_ids=[chat.cart.pk], now=now)
        outcome = Intervention.objects.get(cart=chat.cart)
        assert outcome.agent_id == chat.agent.pk
        assert outcome.first_response_seconds == 20.0
        assert outcome.chat_duration_seconds == 300.0
        assert (outcome.visitor_messages, outcome.agent_messages) == (2, 1)


class TestRecomputation:
    def test_recomputing_is_stable(self, site, post_events, django_capture_on_commit_callbacks):
        # Given a mix of interventions and orders, with outcomes attached as they arrived
        now = timezone.now()
        cart_a, a = stalled_at(site, now - 30 * HOUR)
        cart_b, b = stalled_at(site, now - 3 * HOUR, visitor_id="visitor-2")
        _, c = stalled_at(site, now - 2 * HOUR, visitor_id="visitor-3")
        order(post_events, django_capture_on_commit_callbacks, cart=cart_a.external_id, at=now)
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart=cart_b.external_id,
            visitor_id="visitor-2",
            at=now - HOUR,
        )
        outcomes_finalise(now=now)
        snapshot = list(Intervention.objects.order_by("pk").values())
        # When everything is recomputed, twice, and the finaliser runs again
        ids = [a.pk, b.pk, c.pk]
        assert outcomes_refresh_for_interventions(intervention_ids=ids, now=now) == 0
        assert outcomes_refresh_for_interventions(intervention_ids=ids, now=now) == 0
        outcomes_finalise(now=now)
        # Then nothing changed
        assert list(Intervention.objects.order_by("pk").values()) == snapshot
        assert [i["converted"] for i in snapshot] == [False, True, False]

    def test_finalising_twice_finalises_nothing_more(self, site):
        now = timezone.now()
        stalled_at(site, now - 30 * HOUR)
        assert outcomes_finalise(now=now) == 1
        assert outcomes_finalise(now=now) == 0


_steps = itertools.count(0)


def report(client: Client, site: Site, payload: dict[str, Any], secret: str | None = None):
    body = json.dumps(payload).encode()
    ts = str(int(time.time()) - 200 + next(_steps) % 150)
    return client.post(
        "/api/v1/server/follow-ups",
        body,
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(secret or site.secret, ts, body),
    )


def contact(**overrides: Any) -> dict[str, Any]:
    payload = {
        "id": "hd-1",
        "visitor_id": "visitor-1",
        "channel": "email",
        "reason": "checking_genuine",
        "occurred_at": iso(timezone.now() - HOUR),
    }
    payload.update(overrides)
    return payload


class TestFollowUps:
    def test_a_helpdesk_contact_is_credited_to_the_outreach_before_it(self, client, site):
        # Given an invitation two days ago
        now = timezone.now()
        _, intervention = stalled_at(site, now - 48 * HOUR)
        # When the helpdesk reports the shopper asked whether it was genuine
        response = report(client, site, contact())
        # Then it is stored, credited and counted
        assert response.status_code == 201, response.content
        assert response.json() == {
            "id": "hd-1",
            "duplicate": False,
            "intervention_id": intervention.pk,
            "resolution": None,
        }
        assert refreshed(intervention).follow_ups == 1
        stored = FollowUpContact.objects.get()
        assert (stored.source, stored.channel, stored.reason) == (
            "helpdesk",
            "email",
            "checking_genuine",
        )

    def test_reporting_the_same_contact_twice_stores_it_once(self, client, site):
        now = timezone.now()
        _, intervention = stalled_at(site, now - 2 * HOUR)
        assert report(client, site, contact()).status_code == 201
        again = report(client, site, contact(reason="unresolved"))
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        assert FollowUpContact.objects.count() == 1
        assert FollowUpContact.objects.get().reason == "checking_genuine"
        assert refreshed(intervention).follow_ups == 1

    def test_a_contact_after_the_follow_up_window_is_not_credited(self, client, site):
        now = timezone.now()
        _, intervention = stalled_at(site, now - 8 * 24 * HOUR)
        response = report(client, site, contact())
        assert response.status_code == 201
        assert response.json()["intervention_id"] is None
        assert refreshed(intervention).follow_ups == 0

    def test_a_contact_by_customer_id_finds_the_shopper(self, client, site):
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 3 * HOUR)
        Cart.objects.filter(pk=cart.pk).update(customer_id="C-1", customer_verified=True)
        response = report(client, site, contact(visitor_id=None, customer_id="C-1") | {})
        assert response.status_code == 400  # null is not an id
        payload = contact(customer_id="C-1")
        del payload["visitor_id"]
        response = report(client, site, payload)
        assert response.status_code == 201
        assert response.json()["intervention_id"] == intervention.pk

    def test_suppressed_decisions_do_not_take_follow_ups(self, client, site):
        now = timezone.now()
        cart = make_stalled_cart(site, now=now - 2 * HOUR)
        make_intervention(
            cart, now=now - 2 * HOUR, decision=Decision.SUPPRESSED, suppression_reason="quiet_hours"
        )
        response = report(client, site, contact())
        assert response.json()["intervention_id"] is None

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            (contact(channel="pigeon"), "channel"),
            (contact(reason="bored"), "reason"),
            (contact(occurred_at="yesterday"), "occurred_at"),
            (contact(occurred_at="2026-01-01T10:00:00"), "occurred_at"),
            (contact(occurred_at=iso(timezone.now() + 10 * HOUR)), "occurred_at"),
            (contact(id="bad id with spaces"), "id"),
            (contact(visitor_id=""), "visitor_id"),
            ({k: v for k, v in contact().items() if k != "visitor_id"}, "customer_id"),
            (contact(note="x" * 501), "note"),
            (contact(visitor_id=12), "visitor_id"),
        ],
    )
    def test_bad_input_gets_field_level_errors(self, client, site, payload, field):
        response = report(client, site, payload)
        assert response.status_code == 400, response.content
        assert field in response.json()["errors"]
        assert not FollowUpContact.objects.exists()

    def test_an_unsigned_or_foreign_report_is_refused(self, client, site):
        response = report(client, site, contact(), secret="sk_wrong")
        assert response.status_code == 401
        assert not FollowUpContact.objects.exists()

    def test_non_json_body_is_a_400(self, client, site):
        ts = str(int(time.time()))
        body = b"{not json"
        response = client.post(
            "/api/v1/server/follow-ups",
            body,
            content_type="application/json",
            HTTP_X_CARTASSIST_KEY=site.public_key,
            HTTP_X_CARTASSIST_TIMESTAMP=ts,
            HTTP_X_CARTASSIST_SIGNATURE=sign(site.secret, ts, body),
        )
        assert response.status_code == 400


class TestInvitationFunnel:
    """The invitation's fate is on the intervention as it happens, not only when final."""

    def test_each_invitation_change_reaches_the_outcome(self, site):
        from agents.services.invitations import (
            invitation_accept,
            invitation_dismiss,
            invitations_expire,
            invitations_mark_delivered,
        )
        from tests.fixtures.agents import make_agent, make_invitation

        now = timezone.now()
        make_agent(site, now=now)
        shown = make_invitation(make_stalled_cart(site, visitor_id="v-shown", now=now), now=now)
        accepted = make_invitation(make_stalled_cart(site, visitor_id="v-yes", now=now), now=now)
        dismissed = make_invitation(make_stalled_cart(site, visitor_id="v-no", now=now), now=now)
        unseen = make_invitation(make_stalled_cart(site, visitor_id="v-away", now=now), now=now)

        def result(invitation: Any) -> str:
            return Intervention.objects.get(pk=invitation.intervention_id).invitation_result

        assert {result(i) for i in (shown, accepted, dismissed, unseen)} == {"pending"}
        invitations_mark_delivered(invitation_ids=[shown.pk, accepted.pk, dismissed.pk], now=now)
        assert result(shown) == "delivered"
        invitation_accept(site_id=site.pk, visitor_id="v-yes", invitation_id=accepted.pk, now=now)
        invitation_dismiss(site_id=site.pk, visitor_id="v-no", invitation_id=dismissed.pk, now=now)
        invitations_expire(now=now + timedelta(days=1))
        assert (result(shown), result(accepted), result(dismissed), result(unseen)) == (
            "ignored",
            "accepted",
            "dismissed",
            "undelivered",
        )


class TestConversionWebhook:
    def test_a_conversion_is_announced_once_with_exact_amounts(
        self, site, post_events, django_capture_on_commit_callbacks
    ):
        from cartassist.models import WebhookDelivery, WebhookEndpoint

        # Given the shop subscribes to conversions (an endpoint that refuses connections:
        # the delivery stays queued for retry, which is all this test looks at)
        WebhookEndpoint.objects.create(
            site=site, url="http://127.0.0.1:9/hooks", events=["conversion.attributed"]
        )
        now = timezone.now()
        cart, intervention = stalled_at(site, now - 2 * HOUR)
        # When the order arrives, and everything is recomputed twice more
        order(
            post_events,
            django_capture_on_commit_callbacks,
            cart=cart.external_id,
            at=now - HOUR,
            total="74.90",
            order_id="ord-W",
        )
        outcomes_refresh_for_interventions(intervention_ids=[intervention.pk], now=now)
        outcomes_finalise(now=now + 2 * 24 * HOUR)
        # Then one delivery, with the documented payload
        (delivery,) = WebhookDelivery.objects.all()
        assert delivery.event == "conversion.attributed"
        data = delivery.payload["data"]
        assert data == {
            "intervention_id": intervention.pk,
            "cart": cart.external_id,
            "visitor_id": "visitor-1",
            "decision": "invited",
            "order_id": "ord-W",
            "revenue": "74.90",
            "remedy_cost": "0.00",
            "net_revenue": "74.90",
            "currency": "EUR",
            "attribution": "same_cart",
            "converted_at": data["converted_at"],
        }
        assert data["converted_at"].endswith("Z")


def test_the_pure_computation_names_the_models_stored_values():
    # domain/outcomes.py imports no Django, so it spells these choices out.
    now = timezone.now()
    assert InvitationStatus.values == [
        outcomes.INVITATION_PENDING,
        outcomes.INVITATION_DELIVERED,
        outcomes.INVITATION_ACCEPTED,
        outcomes.INVITATION_DISMISSED,
        outcomes.INVITATION_EXPIRED,
    ]
    unexpired = [
        outcomes.invitation_result(status=status, delivered_at=None, expires_at=now, now=now - HOUR)
        for status in InvitationStatus.values[:4]
    ]
    assert InvitationResult.values == [
        outcomes.RESULT_NONE,
        *unexpired,
        outcomes.RESULT_IGNORED,
        outcomes.RESULT_UNDELIVERED,
    ]
    not_shown = {OfferStatus.PENDING_APPROVAL, OfferStatus.DENIED}
    assert set(OfferStatus.values) - not_shown == outcomes.SHOWN_OFFER_STATUSES
    columns = [f.attname for f in Intervention._meta.concrete_fields]
    first, after = columns.index("invitation_result"), columns.index("outcome_updated_at")
    assert list(outcomes.OUTCOME_FIELDS) == columns[first:after]
