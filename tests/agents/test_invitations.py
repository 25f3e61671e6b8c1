"""Invitations: the sweep (or an agent) invites, the widget shows it, the shopper accepts
or dismisses, an ignored one expires (docs/REALTIME.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents import realtime
from agents.errors import ChatError
from agents.models import (
    Conversation,
    ConversationStatus,
    Invitation,
    InvitationCopy,
    InvitationStatus,
    Message,
)
from agents.services.invitations import (
    invitation_accept,
    invitation_dismiss,
    invitation_reach_out,
)
from cartassist.flows.housekeeping import chat_housekeeping
from cartassist.flows.sweep import stall_sweep
from cartassist.models import (
    CartStatus,
    Decision,
    Intervention,
    InterventionTrigger,
    StallReason,
    SuppressionReason,
    Visitor,
)
from tests.fixtures.agents import (
    FRAME_TIMEOUT,
    console_receive,
    make_agent,
    make_conversation,
    make_intervention,
    make_invitation,
    make_stalled_cart,
)
from tests.fixtures.sites import make_site

db = database_sync_to_async


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def sweep_invitation(cart) -> Invitation:
    stall_sweep(now=timezone.now())
    return Invitation.objects.select_related("agent").get(cart=cart)


# --- the sweep invites a connected shopper ---------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_sweep_invitation_reaches_the_connected_widget_and_the_chat_round_trips(
    site, sockets
):
    # given: Ada is online; the shopper is on the checkout page
    ada = await db(make_agent)(site, name="Ada")
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-1")
    ws, _ = await sockets.widget(site, "visitor-1")
    console, _ = await sockets.console(ada)

    # when: the sweep decides
    await db(stall_sweep)(now=timezone.now())
    frame = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then: it names the issue, the agent, and carries a code the shopper can check
    invitation = await db(Invitation.objects.get)(cart=cart)
    assert frame == {
        "type": "invitation",
        "invitation": {
            "id": invitation.pk,
            "stall_reason": "shipping_shock",
            "headline": "Questions about the delivery charge?",
            "body": "Ada can look at the delivery options for your order right now.",
            "language": "en",
            "agent_name": "Ada",
            "agent": {"first_name": "Ada", "photo_url": ""},
            "verification_code": invitation.verification_code,
            "verify_url": f"/verify/{invitation.verification_code}",
            "sent_at": iso(invitation.sent_at),
            "expires_at": iso(invitation.expires_at),
        },
    }
    assert len(invitation.verification_code) == 8
    delivered = await db(Invitation.objects.get)(pk=invitation.pk)
    assert delivered.status == InvitationStatus.DELIVERED
    assert delivered.delivered_at is not None

    # when: the shopper accepts
    await ws.send_json_to({"type": "invitation.accept", "invitation_id": invitation.pk})
    opened = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    agent_sees = await console_receive(console)

    # then: a conversation with Ada opens on both sides, the invitation its first message
    conversation = await db(Conversation.objects.get)(invitation=invitation)
    assert opened["type"] == "conversation"
    assert {k: opened["conversation"][k] for k in ("id", "status", "agent_name", "last_seq")} == {
        "id": conversation.pk,
        "status": "active",
        "agent_name": "Ada",
        "last_seq": 1,
    }
    assert opened["conversation"]["agent"] == {"first_name": "Ada", "photo_url": ""}
    assert agent_sees == opened

    # when: they talk
    await ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": "v-1",
            "text": "Why is delivery 14.90?",
        }
    )
    mine = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    at_agent = await console_receive(console)
    await console.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": "a-1",
            "text": "I can waive it for you.",
        }
    )
    reply = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert mine == at_agent
    assert (mine["message"]["seq"], mine["message"]["author_name"]) == (2, "You")
    assert (reply["message"]["seq"], reply["message"]["sender"]) == (3, "agent")
    assert (reply["message"]["author_name"], reply["message"]["text"]) == (
        "Ada",
        "I can waive it for you.",
    )
    assert await db(Message.objects.filter(conversation=conversation).count)() == 3


CARTS_BY_REASON = [
    (
        StallReason.SHIPPING_SHOCK,
        {"signal": "shipping_quoted", "shipping_fee": "14.90"},
        "Questions about the delivery charge?",
        "Ada can look at the delivery options for your order right now.",
    ),
    (
        StallReason.PAYMENT_FAILED,
        {"signal": "payment_failed", "stage": "payment"},
        "Trouble with your payment?",
        "Ada can help you complete your order.",
    ),
    (
        StallReason.COUPON_REJECTED,
        {"signal": "coupon_rejected"},
        "Your coupon didn't work?",
        "Ada can check what applies to your cart.",
    ),
    (
        StallReason.IDLE,
        {"signal": "", "stage": "contact", "shipping_fee": None},
        "Need a hand finishing your order?",
        "Ada is here if you have a question.",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("reason", "cart", "headline", "body"), CARTS_BY_REASON)
def test_invitation_copy_names_the_stall_reason_and_the_agent(site, reason, cart, headline, body):
    # given
    make_agent(site, name="Ada")
    stalled = make_stalled_cart(site, **cart)

    # when
    invitation = sweep_invitation(stalled)

    # then
    assert (invitation.stall_reason, invitation.headline, invitation.body) == (
        reason,
        headline,
        body,
    )
    assert invitation.agent.display_name == "Ada"


@pytest.mark.django_db
def test_site_copy_replaces_the_default_for_its_reason(site):
    # given
    make_agent(site, name="Ada")
    InvitationCopy.objects.create(
        site=site,
        stall_reason=StallReason.SHIPPING_SHOCK,
        headline="Delivery costs a surprise?",
        body="{agent} can sort out delivery now.",
    )
    cart = make_stalled_cart(site)

    # when
    invitation = sweep_invitation(cart)

    # then
    assert (invitation.headline, invitation.body) == (
        "Delivery costs a surprise?",
        "Ada can sort out delivery now.",
    )


@pytest.mark.django_db
def test_without_an_online_agent_the_invitation_names_the_team(site, settings):
    # given: availability by the site's switch alone (on), and nobody online to name
    settings.CARTASSIST_AGENT_AVAILABILITY = "cartassist.availability.site_setting"
    cart = make_stalled_cart(site)

    # when
    invitation = sweep_invitation(cart)

    # then
    assert (invitation.agent, invitation.body) == (
        None,
        "Our team can look at the delivery options for your order right now.",
    )


@pytest.mark.django_db
def test_sweep_publishes_the_invitation_to_the_visitor_and_the_queue(site, capture_published):
    # given
    make_agent(site, name="Ada")
    cart = make_stalled_cart(site, visitor_id="shopper")

    # when
    with capture_published(expected=2) as published:
        stall_sweep(now=timezone.now())

    # then
    invitation = Invitation.objects.get(cart=cart)
    assert [(p.group, p.type) for p in published] == [
        (realtime.visitor_group(site.pk, "shopper"), realtime.INVITATION_CREATED),
        (realtime.console_site_group(site.pk), realtime.QUEUE_CHANGED),
    ]
    assert published[0].payload["invitation"]["id"] == invitation.pk


# --- an invitation waits for the next connection, until it expires ----------------------


@pytest.mark.django_db(transaction=True)
async def test_invitation_created_while_away_arrives_in_the_next_hello(site, sockets):
    # given: invited while no socket was open
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-1")
    invitation = await db(make_invitation)(cart)

    # when: the shopper opens a page, then another
    first, hello = await sockets.widget(site, "visitor-1")
    await first.disconnect()
    _, hello_again = await sockets.widget(site, "visitor-1")

    # then: shown on both pages until answered or expired
    assert [i["id"] for i in hello["invitations"]] == [invitation.pk]
    assert hello["invitations"][0]["verification_code"] == invitation.verification_code
    assert hello_again["invitations"] == hello["invitations"]
    stored = await db(Invitation.objects.get)(pk=invitation.pk)
    assert stored.status == InvitationStatus.DELIVERED


@pytest.mark.django_db(transaction=True)
async def test_expired_invitation_is_not_in_hello(site, sockets):
    # given: an invitation whose time ran out, not yet swept up by housekeeping
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-1")
    invitation = await db(make_invitation)(cart)
    await db(Invitation.objects.filter(pk=invitation.pk).update)(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    # when
    _, hello = await sockets.widget(site, "visitor-1")

    # then
    assert hello["invitations"] == []
    stored = await db(Invitation.objects.get)(pk=invitation.pk)
    assert (stored.status, stored.delivered_at) == (InvitationStatus.PENDING, None)


@pytest.mark.django_db(transaction=True)
async def test_housekeeping_expires_an_ignored_invitation(site, sockets, settings):
    # given
    settings.CARTASSIST_INVITATION_TTL = timedelta(minutes=10)
    now = timezone.now()
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-1")
    invitation = await db(make_invitation)(cart, now=now)

    # when
    early = await db(chat_housekeeping)(now=now + timedelta(minutes=9))
    late = await db(chat_housekeeping)(now=now + timedelta(minutes=10))
    _, hello = await sockets.widget(site, "visitor-1")

    # then
    assert (early.invitations_expired, late.invitations_expired) == (0, 1)
    stored = await db(Invitation.objects.get)(pk=invitation.pk)
    assert stored.status == InvitationStatus.EXPIRED
    assert hello["invitations"] == []


@pytest.mark.django_db
def test_expired_invitation_cannot_be_accepted(site):
    # given
    now = timezone.now()
    invitation = make_invitation(make_stalled_cart(site), now=now - timedelta(hours=1))

    # when
    with pytest.raises(ChatError) as refused:
        invitation_accept(
            site_id=site.pk, visitor_id="visitor-1", invitation_id=invitation.pk, now=now
        )

    # then
    assert (refused.value.code, refused.value.message) == (
        "invalid_state",
        "This invitation is no longer open.",
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.responded_at) == (InvitationStatus.PENDING, None)
    assert Conversation.objects.count() == 0


# --- accept ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_accept_routes_to_the_least_loaded_online_agent_with_a_free_seat(site, sockets):
    # given: the invitation named Ada, who has gone silent since; Bea has one chat, Cy none,
    # Dee none but no free seat (capacity 1, one chat)
    now = timezone.now()
    ada = await db(make_agent)(site, name="Ada", now=now)
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-1")
    invitation = await db(make_invitation)(cart, now=now)
    await db(type(ada).objects.filter(pk=ada.pk).update)(
        last_heartbeat_at=now - timedelta(minutes=5)
    )
    bea = await db(make_agent)(site, name="Bea", capacity=3)
    await db(make_conversation)(site, visitor_id="other-1", agent=bea)
    await db(make_agent)(site, name="Cy", capacity=3)
    ws, hello = await sockets.widget(site, "visitor-1")

    # when
    await ws.send_json_to({"type": "invitation.accept", "invitation_id": invitation.pk})
    frame = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert hello["invitations"][0]["agent_name"] == "Ada"
    assert (
        frame["type"],
        frame["conversation"]["status"],
        frame["conversation"]["agent_name"],
    ) == (
        "conversation",
        "active",
        "Cy",
    )
    stored = await db(Invitation.objects.get)(pk=invitation.pk)
    assert stored.status == InvitationStatus.ACCEPTED
    assert stored.responded_at is not None


@pytest.mark.django_db
def test_accepted_invitation_is_recorded_and_opens_a_conversation_for_the_cart(site):
    # given
    now = timezone.now()
    make_agent(site, name="Ada", now=now)
    cart = make_stalled_cart(site, visitor_id="visitor-1")
    invitation = make_invitation(cart, now=now, urgency=73)

    # when
    conversation = invitation_accept(
        site_id=site.pk, visitor_id="visitor-1", invitation_id=invitation.pk, now=now
    )

    # then
    invitation.refresh_from_db()
    assert (invitation.status, invitation.responded_at) == (InvitationStatus.ACCEPTED, now)
    conversation.refresh_from_db()
    assert (
        conversation.invitation_id,
        conversation.cart_id,
        conversation.visitor_id,
        conversation.urgency,
        str(conversation.cart_value),
        conversation.status,
        conversation.agent.display_name,
    ) == (invitation.pk, cart.pk, "visitor-1", 73, "60.000", ConversationStatus.ACTIVE, "Ada")


@pytest.mark.django_db
def test_accept_when_every_agent_is_busy_waits_in_the_queue(site):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", capacity=1, now=now)
    make_conversation(site, visitor_id="other", agent=ada)
    invitation = make_invitation(make_stalled_cart(site), now=now)

    # when
    conversation = invitation_accept(
        site_id=site.pk, visitor_id="visitor-1", invitation_id=invitation.pk, now=now
    )

    # then
    conversation.refresh_from_db()
    assert (conversation.status, conversation.agent) == (ConversationStatus.QUEUED, None)


@pytest.mark.django_db
def test_accepting_twice_returns_the_same_conversation(site):
    # given
    now = timezone.now()
    invitation = make_invitation(make_stalled_cart(site), now=now)
    first = invitation_accept(
        site_id=site.pk, visitor_id="visitor-1", invitation_id=invitation.pk, now=now
    )

    # when
    again = invitation_accept(
        site_id=site.pk,
        visitor_id="visitor-1",
        invitation_id=invitation.pk,
        now=now + timedelta(seconds=5),
    )

    # then
    assert again.pk == first.pk
    assert Conversation.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.responded_at == now


# --- dismiss ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_dismissed_invitation_is_recorded_and_does_not_come_back(site, sockets):
    # given
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-1")
    invitation = await db(make_invitation)(cart)
    ws, hello = await sockets.widget(site, "visitor-1")

    # when
    await ws.send_json_to({"type": "invitation.dismiss", "invitation_id": invitation.pk})
    answer = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    await ws.disconnect()
    _, next_page = await sockets.widget(site, "visitor-1")

    # then
    assert [i["id"] for i in hello["invitations"]] == [invitation.pk]
    assert answer == {"type": "invitation.dismissed", "invitation_id": invitation.pk}
    stored = await db(Invitation.objects.get)(pk=invitation.pk)
    assert stored.status == InvitationStatus.DISMISSED
    assert stored.responded_at is not None
    assert next_page["invitations"] == []
    assert await db(Conversation.objects.count)() == 0


@pytest.mark.django_db
def test_dismissed_invitation_cannot_be_accepted_afterwards(site):
    # given
    now = timezone.now()
    invitation = make_invitation(make_stalled_cart(site), now=now)
    invitation_dismiss(
        site_id=site.pk, visitor_id="visitor-1", invitation_id=invitation.pk, now=now
    )

    # when
    with pytest.raises(ChatError) as refused:
        invitation_accept(
            site_id=site.pk, visitor_id="visitor-1", invitation_id=invitation.pk, now=now
        )

    # then
    assert refused.value.code == "invalid_state"
    invitation.refresh_from_db()
    assert (invitation.status, invitation.responded_at) == (InvitationStatus.DISMISSED, now)
    assert Conversation.objects.count() == 0


@pytest.mark.django_db
def test_dismissing_twice_keeps_the_first_answer(site, capture_published):
    # given
    now = timezone.now()
    invitation = make_invitation(make_stalled_cart(site), now=now)
    invitation_dismiss(
        site_id=site.pk, visitor_id="visitor-1", invitation_id=invitation.pk, now=now
    )

    # when
    with capture_published(expected=0):
        invitation_dismiss(
            site_id=site.pk,
            visitor_id="visitor-1",
            invitation_id=invitation.pk,
            now=now + timedelta(minutes=1),
        )

    # then
    invitation.refresh_from_db()
    assert (invitation.status, invitation.responded_at) == (InvitationStatus.DISMISSED, now)


@pytest.mark.django_db
def test_after_a_dismissal_the_next_stall_is_suppressed_by_the_frequency_cap(site):
    # given: an agent is online; the shopper dismissed today's invitation and then stalls
    # again on another cart
    make_agent(site)
    first_cart = make_stalled_cart(site, visitor_id="visitor-1")
    invitation = sweep_invitation(first_cart)
    invitation_dismiss(
        site_id=site.pk, visitor_id="visitor-1", invitation_id=invitation.pk, now=timezone.now()
    )
    second_cart = make_stalled_cart(site, visitor_id="visitor-1")

    # when
    stall_sweep(now=timezone.now())

    # then
    decided = Intervention.objects.get(cart=second_cart)
    assert (decided.decision, decided.suppression_reason) == (
        Decision.SUPPRESSED,
        SuppressionReason.FREQUENCY_CAP,
    )
    assert Invitation.objects.filter(visitor_id="visitor-1").count() == 1


# --- an agent reaches out ----------------------------------------------------------------


def reach_out_refusal(agent, cart, capture_published) -> ChatError:
    before = (Intervention.objects.count(), Invitation.objects.count())
    with capture_published(expected=0), pytest.raises(ChatError) as refused:
        invitation_reach_out(agent=agent, cart_id=cart.pk, now=timezone.now())
    assert (Intervention.objects.count(), Invitation.objects.count()) == before
    return refused.value


@pytest.mark.django_db
def test_reach_out_invites_a_stalled_cart_naming_the_agent(site, capture_published):
    # given: the sweep could not invite (no agent then); Ada is online now
    now = timezone.now()
    cart = make_stalled_cart(site, visitor_id="shopper")
    make_intervention(
        cart,
        decision=Decision.SUPPRESSED,
        suppression_reason=SuppressionReason.NO_AGENT_AVAILABLE,
        now=now - timedelta(minutes=3),
    )
    ada = make_agent(site, name="Ada", now=now)

    # when
    with capture_published(expected=2) as published:
        invitation = invitation_reach_out(agent=ada, cart_id=cart.pk, now=now)

    # then
    intervention = invitation.intervention
    assert (
        intervention.trigger,
        intervention.decision,
        intervention.stall_reason,
        intervention.decided_at,
    ) == (InterventionTrigger.AGENT, Decision.INVITED, StallReason.SHIPPING_SHOCK, now)
    assert (invitation.agent, invitation.visitor_id, invitation.headline) == (
        ada,
        "shopper",
        "Questions about the delivery charge?",
    )
    assert Visitor.objects.get(site=site, external_id="shopper").last_invited_at == now
    assert [(p.group, p.type) for p in published] == [
        (realtime.visitor_group(site.pk, "shopper"), realtime.INVITATION_CREATED),
        (realtime.console_site_group(site.pk), realtime.QUEUE_CHANGED),
    ]
    assert published[0].payload["invitation"]["agent_name"] == "Ada"


@pytest.mark.django_db
def test_reach_out_to_a_shopper_who_opted_out_is_refused(site, capture_published):
    # given
    cart = make_stalled_cart(site, visitor_id="shopper")
    Visitor.objects.create(site=site, external_id="shopper", opted_out_at=timezone.now())
    ada = make_agent(site)

    # when
    error = reach_out_refusal(ada, cart, capture_published)

    # then
    assert (error.code, error.message) == (
        "forbidden",
        "This shopper opted out of proactive chat.",
    )


@pytest.mark.django_db
def test_reach_out_within_the_frequency_cap_is_refused(site, capture_published):
    # given: invited 23 hours ago, the cap is 24 hours
    cart = make_stalled_cart(site, visitor_id="shopper")
    Visitor.objects.create(
        site=site, external_id="shopper", last_invited_at=timezone.now() - timedelta(hours=23)
    )
    ada = make_agent(site)

    # when
    error = reach_out_refusal(ada, cart, capture_published)

    # then
    assert (error.code, error.message) == (
        "forbidden",
        "This shopper was invited less than 24 h ago.",
    )


@pytest.mark.django_db
def test_reach_out_after_the_frequency_cap_is_allowed(site):
    # given
    cart = make_stalled_cart(site, visitor_id="shopper")
    Visitor.objects.create(
        site=site, external_id="shopper", last_invited_at=timezone.now() - timedelta(hours=25)
    )
    ada = make_agent(site)

    # when
    invitation = invitation_reach_out(agent=ada, cart_id=cart.pk, now=timezone.now())

    # then
    assert invitation.intervention.trigger == InterventionTrigger.AGENT


@pytest.mark.django_db
def test_reach_out_to_a_cart_the_sweep_held_out_is_refused(site, capture_published):
    # given
    cart = make_stalled_cart(site, visitor_id="shopper")
    make_intervention(cart, decision=Decision.HELD_OUT)
    ada = make_agent(site)

    # when
    error = reach_out_refusal(ada, cart, capture_published)

    # then
    assert (error.code, error.message) == (
        "forbidden",
        "This cart is in the control group (holdout).",
    )


@pytest.mark.django_db
def test_reach_out_to_a_holdout_cart_that_was_suppressed_first_is_refused(capture_published):
    # given: every cart of this site is in the holdout, but the sweep recorded "no agent
    # available" (suppression is decided before the holdout), so the cart is in the
    # console's list of carts an agent may reach out to
    site = make_site(holdout_share="1")
    cart = make_stalled_cart(site, visitor_id="shopper")
    make_intervention(
        cart,
        decision=Decision.SUPPRESSED,
        suppression_reason=SuppressionReason.NO_AGENT_AVAILABLE,
    )
    ada = make_agent(site)

    # when
    error = reach_out_refusal(ada, cart, capture_published)

    # then
    assert (error.code, error.message) == (
        "forbidden",
        "This cart is in the control group (holdout).",
    )


@pytest.mark.django_db
def test_reach_out_to_an_ordered_cart_is_refused(site, capture_published):
    # given
    cart = make_stalled_cart(site, visitor_id="shopper")
    cart.status = CartStatus.CONVERTED
    cart.save()
    ada = make_agent(site)

    # when
    error = reach_out_refusal(ada, cart, capture_published)

    # then
    assert (error.code, error.message) == ("invalid_state", "This cart has already been ordered.")


@pytest.mark.django_db
def test_reach_out_to_another_sites_cart_is_not_found(site, capture_published):
    # given
    cart = make_stalled_cart(make_site(name="Other"), visitor_id="shopper")
    ada = make_agent(site)

    # when
    error = reach_out_refusal(ada, cart, capture_published)

    # then
    assert (error.code, error.message) == ("not_found", "No such cart.")


@pytest.mark.django_db(transaction=True)
async def test_reach_out_from_the_console_reaches_the_connected_widget(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-1")
    widget, _ = await sockets.widget(site, "visitor-1")
    console, _ = await sockets.console(ada)

    # when
    await console.send_json_to({"type": "reach_out", "cart_id": cart.pk})
    sent = await console_receive(console)
    shown = await widget.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    invitation = await db(Invitation.objects.get)(cart=cart)
    assert sent == {"type": "reach_out.sent", "cart_id": cart.pk, "invitation_id": invitation.pk}
    assert (shown["type"], shown["invitation"]["id"], shown["invitation"]["agent_name"]) == (
        "invitation",
        invitation.pk,
        "Ada",
    )


@pytest.mark.django_db(transaction=True)
async def test_refused_reach_out_answers_the_console_with_the_reason(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-1")
    await db(Visitor.objects.create)(
        site=site, external_id="visitor-1", opted_out_at=timezone.now()
    )
    console, _ = await sockets.console(ada)

    # when
    await console.send_json_to({"type": "reach_out", "cart_id": cart.pk})

    # then
    assert await console_receive(console) == {
        "type": "error",
        "code": "forbidden",
        "message": "This shopper opted out of proactive chat.",
    }
    assert await db(Invitation.objects.count)() == 0
