"""The one way to publish: group names, on-commit sends, and payloads that survive the
Redis layer's serialisation (the in-memory layer would accept a Decimal; msgpack not)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from django.db import transaction
from django.utils import timezone

from agents import realtime
from agents.models import CloseReason, Invitation, Sender
from agents.services.assignment import conversation_close, conversation_transfer
from agents.services.conversations import (
    conversation_message_post,
    conversation_read,
    conversation_typing,
)
from agents.services.invitations import (
    invitation_accept,
    invitation_dismiss,
    invitation_reach_out,
)
from cartassist.flows.housekeeping import chat_housekeeping
from cartassist.flows.sweep import stall_sweep
from tests.fixtures.agents import make_agent, make_stalled_cart

CHAT_EVENT_TYPES = {
    realtime.INVITATION_CREATED,
    realtime.CONVERSATION_UPDATED,
    realtime.CONVERSATION_CLOSED,
    realtime.MESSAGE_CREATED,
    realtime.TYPING,
    realtime.READ,
    realtime.QUEUE_CHANGED,
}


@pytest.mark.parametrize(
    "visitor_id", ["v1", "x" * 64, "ünïcödé visitor 🛒", "a.b:c-d_e", "../../etc"]
)
def test_group_names_are_short_dotted_ascii_whatever_the_visitor_id(visitor_id):
    # given
    layer = InMemoryChannelLayer()

    # when
    names = [
        realtime.visitor_group(2**31, visitor_id),
        realtime.conversation_group(2**53),
        realtime.console_site_group(2**31),
        realtime.agent_group(2**31),
    ]

    # then
    for name in names:
        assert name.isascii()
        assert len(name) < 100
        assert layer.require_valid_group_name(name)
    assert names[0].startswith(f"visitor.{2**31}.")


def test_visitor_group_separates_visitors_and_sites():
    assert (
        len(
            {
                realtime.visitor_group(1, "a"),
                realtime.visitor_group(1, "b"),
                realtime.visitor_group(2, "a"),
            }
        )
        == 3
    )


@pytest.mark.django_db
def test_payload_that_json_cannot_carry_is_refused_at_once_in_every_mode():
    # given: a Decimal would pass the in-memory layer and fail in production (msgpack)
    with pytest.raises(TypeError), transaction.atomic():
        realtime.publish_on_commit("console.site.1", realtime.QUEUE_CHANGED, {"v": Decimal("1")})


@pytest.mark.django_db
def test_publish_waits_for_the_commit_and_sends_the_type_with_the_payload(capture_published):
    # given
    with capture_published() as published, transaction.atomic():
        realtime.publish_on_commit(
            "conversation.7", realtime.TYPING, {"conversation_id": 7, "sender": "agent"}
        )

        # then: nothing yet, inside the transaction
        assert published == []

    assert [(p.group, p.type, p.payload) for p in published] == [
        ("conversation.7", "typing.sent", {"conversation_id": 7, "sender": "agent"})
    ]


# --- every payload a chat service publishes survives JSON unchanged ----------------------


@pytest.fixture
def raw_payloads(monkeypatch) -> list[tuple[str, str, dict[str, Any]]]:
    """What services hand to publish_on_commit (and chat messages to publish), before
    their own JSON round trip."""
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def spying(original: Any) -> Any:
        def spy(group: str, event_type: str, payload: dict[str, Any]) -> None:
            calls.append((group, event_type, payload))
            original(group, event_type, payload)

        return spy

    monkeypatch.setattr(realtime, "publish_on_commit", spying(realtime.publish_on_commit))
    monkeypatch.setattr(realtime, "publish", spying(realtime.publish))
    return calls


@pytest.mark.django_db
def test_every_chat_payload_survives_a_json_round_trip_unchanged(
    site, raw_payloads, django_capture_on_commit_callbacks
):
    # given: a whole chat life through the services
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    bea = make_agent(site, name="Bea", now=now)
    cart = make_stalled_cart(site, visitor_id="v1", now=now)
    stall_sweep(now=now)
    invitation = Invitation.objects.get(cart=cart)
    conversation = invitation_accept(
        site_id=site.pk, visitor_id="v1", invitation_id=invitation.pk, now=now
    )
    # Messages are published from the database after commit (ADR 0011).
    with django_capture_on_commit_callbacks(execute=True):
        for sender, agent, text in ((Sender.VISITOR, None, "hi"), (Sender.AGENT, ada, "hello")):
            conversation_message_post(
                conversation_id=conversation.pk,
                sender=sender,
                agent=agent,
                client_message_id=f"{sender}-1",
                text=text,
                now=now,
            )
    conversation.refresh_from_db()
    conversation_typing(conversation=conversation, sender=Sender.VISITOR)
    conversation_read(conversation=conversation, reader=Sender.VISITOR, seq=2)
    conversation_transfer(agent=ada, conversation_id=conversation.pk, to_agent_id=bea.pk, now=now)
    chat_housekeeping(now=now + timedelta(minutes=3))  # Bea is silent: re-queued
    conversation_close(conversation_id=conversation.pk, reason=CloseReason.VISITOR_TIMEOUT, now=now)
    other_cart = make_stalled_cart(site, visitor_id="v2", now=now)
    reached = invitation_reach_out(agent=ada, cart_id=other_cart.pk, now=now)
    invitation_dismiss(site_id=site.pk, visitor_id="v2", invitation_id=reached.pk, now=now)

    # then
    assert {event_type for _, event_type, _ in raw_payloads} == CHAT_EVENT_TYPES
    for group, event_type, payload in raw_payloads:
        assert json.loads(json.dumps(payload)) == payload, (group, event_type)
