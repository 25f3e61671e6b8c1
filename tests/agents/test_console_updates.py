"""What the console hears about without asking (a chat transferred away, a stalled cart
that nobody could invite) and what its queue shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.selectors import console_queue
from agents.services.invitations import invitation_reach_out
from cartassist.flows.sweep import stall_sweep
from cartassist.models import Decision, Intervention, SuppressionReason, Visitor
from tests.fixtures.agents import (
    console_receive,
    make_agent,
    make_conversation,
    make_intervention,
    make_stalled_cart,
)


@pytest.mark.django_db(transaction=True)
async def test_transfer_sends_the_new_owner_to_the_previous_agents_console(site, sockets):
    # given: Ada has a chat and Bob is online with a free seat
    ada = await database_sync_to_async(make_agent)(site, name="Ada")
    bob = await database_sync_to_async(make_agent)(site, name="Bob")
    conversation = await database_sync_to_async(make_conversation)(site, agent=ada)
    ada_ws, ada_hello = await sockets.console(ada)
    assert [c["id"] for c in ada_hello["conversations"]] == [conversation.pk]

    # when
    await ada_ws.send_json_to(
        {"type": "transfer", "conversation_id": conversation.pk, "agent_id": bob.pk}
    )

    # then: Ada's console learns that the chat is Bob's now (next to the system message
    # that announces it)
    frames = [await console_receive(ada_ws), await console_receive(ada_ws)]
    assert sorted(f["type"] for f in frames) == ["conversation", "message"]
    (frame,) = [f for f in frames if f["type"] == "conversation"]
    assert (frame["conversation"]["id"], frame["conversation"]["agent_id"]) == (
        conversation.pk,
        bob.pk,
    )
    assert frame["conversation"]["agent_name"] == "Bob"


@pytest.mark.django_db
def test_sweep_tells_the_consoles_when_it_leaves_a_cart_for_agents_to_reach(
    site, settings, capture_published
):
    # given: nobody can take a chat, so the sweep suppresses the invitation
    settings.CARTASSIST_AGENT_AVAILABILITY = "cartassist.availability.site_setting"
    site.agents_available = False
    site.save()
    make_stalled_cart(site)

    # when
    with capture_published() as published:
        stall_sweep(now=timezone.now())

    # then: the consoles re-read the queue, where the cart now shows as a stalled cart
    assert Intervention.objects.get().suppression_reason == "no_agent_available"
    assert [(p.group, p.type) for p in published] == [(f"console.site.{site.pk}", "queue.changed")]


@pytest.mark.django_db
def test_sweep_announces_nothing_for_carts_agents_may_not_reach(site, settings, capture_published):
    # given: the shopper opted out; no agent may reach out
    settings.CARTASSIST_AGENT_AVAILABILITY = "cartassist.availability.always"
    cart = make_stalled_cart(site)
    Visitor.objects.create(site=site, external_id=cart.visitor_id, opted_out_at=timezone.now())

    # when
    with capture_published() as published:
        stall_sweep(now=timezone.now())

    # then
    assert Intervention.objects.get().suppression_reason == "opted_out"
    assert published == []


@pytest.mark.django_db
def test_a_stalled_cart_leaves_the_queue_once_an_agent_reached_out(site):
    # given: the sweep could not invite; the cart waits in the queue for an agent
    cart = make_stalled_cart(site)
    make_intervention(
        cart,
        decision=Decision.SUPPRESSED,
        suppression_reason=SuppressionReason.NO_AGENT_AVAILABLE,
        now=timezone.now() - timedelta(minutes=1),
    )
    agent = make_agent(site)
    assert [i["kind"] for i in console_queue(site_id=site.pk, now=timezone.now())] == [
        "stalled_cart"
    ]

    # when
    invitation = invitation_reach_out(agent=agent, cart_id=cart.pk, now=timezone.now())

    # then: it shows once, as the invitation the agent sent
    queue = console_queue(site_id=site.pk, now=timezone.now())
    assert [(i["kind"], i.get("invitation_id")) for i in queue] == [("invitation", invitation.pk)]


@pytest.mark.django_db
def test_a_held_out_cart_that_was_suppressed_is_not_offered_for_reach_out(site):
    # given: every cart is in the control group, and the sweep suppressed this one first
    site.holdout_share = 1
    site.save()
    cart = make_stalled_cart(site)
    make_intervention(
        cart,
        decision=Decision.SUPPRESSED,
        suppression_reason=SuppressionReason.NO_AGENT_AVAILABLE,
        now=timezone.now() - timedelta(minutes=1),
    )
    # when
    queue = console_queue(site_id=site.pk, now=timezone.now())
    # then
    assert queue == []
