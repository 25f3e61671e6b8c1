"""The invitation is the conversation's first message (docs/REALTIME.md, "The
invitation as the first message"): seq 1, stored in the transaction that opens the chat,
published after commit, seen by the widget and the console alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents import realtime
from agents.errors import ChatError
from agents.models import Conversation, Message, MessageKind, Sender
from agents.services.conversations import conversation_message_post
from agents.services.invitations import invitation_accept
from agents.services.visitor_chats import conversation_start_by_visitor
from tests.fixtures.agents import (
    FRAME_TIMEOUT,
    console_receive,
    make_agent,
    make_invitation,
    make_stalled_cart,
)

db = database_sync_to_async


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def accept(invitation, now=None):
    return invitation_accept(
        site_id=invitation.site_id,
        visitor_id=invitation.visitor_id,
        invitation_id=invitation.pk,
        now=now or timezone.now(),
    )


@pytest.mark.django_db
def test_accepting_stores_the_invitation_as_message_one_and_publishes_it_after_commit(
    site, capture_published
):
    # given: Alex invited the shopper
    alex = make_agent(site, name="Alex Martin")
    invitation = make_invitation(make_stalled_cart(site))

    # when
    with capture_published() as published:
        conversation = accept(invitation)

    # then: seq 1, from Alex, of kind "invitation", in the conversation's count
    message = Message.objects.get(conversation=conversation)
    assert (message.seq, message.sender, message.agent_id, message.kind) == (
        1,
        Sender.AGENT,
        alex.pk,
        MessageKind.INVITATION,
    )
    assert message.text == (
        "Questions about the delivery charge?\n\n"
        "Alex can look at the delivery options for your order right now."
    )
    assert message.meta == {
        "headline": "Questions about the delivery charge?",
        "body": "Alex can look at the delivery options for your order right now.",
        "verification_code": invitation.verification_code,
        "verify_url": f"/verify/{invitation.verification_code}",
    }
    assert message.created_at == invitation.sent_at
    conversation.refresh_from_db()
    assert (conversation.last_seq, conversation.published_seq) == (1, 1)
    # not an agent's reply: the first response time is still to come
    assert conversation.first_agent_message_at is None
    (created,) = published.of_type(realtime.MESSAGE_CREATED)
    assert created.group == realtime.conversation_group(conversation.pk)
    assert created.payload == {
        "conversation_id": conversation.pk,
        "message": {
            "seq": 1,
            "sender": "agent",
            "author_name": "Alex Martin",
            "agent": {"first_name": "Alex", "photo_url": ""},
            "kind": "invitation",
            "meta": message.meta,
            "text": message.text,
            "client_message_id": f"@invitation-{invitation.pk}",
            "created_at": iso(invitation.sent_at),
        },
    }
    # the conversation frames published with it already count the message
    assert {
        p.payload["conversation"]["last_seq"]
        for p in published.of_type(realtime.CONVERSATION_UPDATED)
    } == {1}


@pytest.mark.django_db
def test_an_invitation_that_named_nobody_is_a_message_from_cartassist(site):
    # given: nobody online when the invitation went out
    invitation = make_invitation(make_stalled_cart(site))
    assert invitation.agent is None

    # when
    conversation = accept(invitation)

    # then
    message = Message.objects.get(conversation=conversation)
    assert (message.seq, message.sender, message.agent, message.kind) == (
        1,
        Sender.SYSTEM,
        None,
        MessageKind.INVITATION,
    )
    assert message.text.endswith(
        "\n\nOur team can look at the delivery options for your order right now."
    )


@pytest.mark.django_db
def test_accepting_twice_stores_the_invitation_message_once(site):
    # given
    make_agent(site, name="Ada")
    invitation = make_invitation(make_stalled_cart(site))
    first = accept(invitation)

    # when
    again = accept(invitation)

    # then
    assert again.pk == first.pk
    assert Message.objects.filter(conversation=first).count() == 1


@pytest.mark.django_db
def test_a_refused_acceptance_stores_no_message(site):
    # given: the invitation expired
    make_agent(site, name="Ada")
    invitation = make_invitation(make_stalled_cart(site))
    later = invitation.expires_at + timedelta(seconds=1)

    # when
    with pytest.raises(ChatError, match="no longer open"):
        accept(invitation, now=later)

    # then: nothing changed
    assert (Conversation.objects.count(), Message.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_the_next_messages_follow_the_invitation_in_sequence(site):
    # given
    ada = make_agent(site, name="Ada")
    conversation = accept(make_invitation(make_stalled_cart(site)))

    # when
    now = timezone.now()
    mine = conversation_message_post(
        conversation_id=conversation.pk,
        sender=Sender.VISITOR,
        client_message_id="v-1",
        text="Is it really free?",
        now=now,
    )
    reply = conversation_message_post(
        conversation_id=conversation.pk,
        sender=Sender.AGENT,
        agent=ada,
        client_message_id="a-1",
        text="Yes.",
        now=now,
    )

    # then
    assert (mine.message.seq, reply.message.seq) == (2, 3)
    assert (mine.message.kind, mine.message.meta) == (MessageKind.TEXT, {})
    conversation.refresh_from_db()
    assert conversation.first_agent_message_at == now


@pytest.mark.django_db
def test_a_chat_the_shopper_starts_has_no_invitation_message(site):
    # when: the shopper opens a chat from the launcher
    make_agent(site, name="Ada")
    conversation = conversation_start_by_visitor(
        site_id=site.pk, visitor_id="visitor-1", cart_external_id=None, now=timezone.now()
    )

    # then
    assert conversation.last_seq == 0
    assert not Message.objects.filter(conversation=conversation).exists()


@pytest.mark.django_db(transaction=True)
async def test_both_sides_see_the_invitation_first(site, sockets):
    # given: Ada invited the shopper; both are connected
    ada = await db(make_agent)(site, name="Ada")
    invitation = await db(make_invitation)(await db(make_stalled_cart)(site))
    ws, _ = await sockets.widget(site, "visitor-1")
    console, _ = await sockets.console(ada)

    # when: the shopper accepts, and each side syncs the conversation it is told of
    await ws.send_json_to({"type": "invitation.accept", "invitation_id": invitation.pk})
    opened = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    told = await console_receive(console)
    conversation_id = opened["conversation"]["id"]
    for socket in (ws, console):
        await socket.send_json_to(
            {"type": "sync", "conversation_id": conversation_id, "after_seq": 0}
        )
    shopper_sees = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    shopper_synced = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    agent_sees = await console_receive(console)

    # then: the same first message on both sides
    assert opened["conversation"]["last_seq"] == told["conversation"]["last_seq"] == 1
    assert shopper_sees == agent_sees
    assert shopper_sees["message"]["seq"] == 1
    assert shopper_sees["message"]["kind"] == "invitation"
    assert shopper_sees["message"]["meta"]["verification_code"] == invitation.verification_code
    assert shopper_synced == {
        "type": "synced",
        "conversation_id": conversation_id,
        "last_seq": 1,
    }


@pytest.mark.django_db(transaction=True)
async def test_a_shopper_who_comes_back_finds_the_invitation_in_the_chat(site, sockets):
    # given: the chat was opened from the invitation; the shopper's page reloads
    await db(make_agent)(site, name="Ada")
    invitation = await db(make_invitation)(await db(make_stalled_cart)(site))
    await db(accept)(invitation)

    # when
    ws, hello = await sockets.widget(site, "visitor-1")
    (conversation,) = hello["conversations"]
    await ws.send_json_to({"type": "sync", "conversation_id": conversation["id"], "after_seq": 0})
    first = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert conversation["last_seq"] == 1
    assert (first["message"]["seq"], first["message"]["kind"]) == (1, "invitation")
    assert first["message"]["agent"] == {"first_name": "Ada", "photo_url": ""}
