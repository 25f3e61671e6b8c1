"""The agent console socket through the real ASGI application: login and groups, presence,
claims, transfers, closing, typing and read receipts (docs/REALTIME.md, "Console")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, User
from django.utils import timezone

from agents.models import (
    AgentProfile,
    AgentStatus,
    CloseReason,
    Conversation,
    ConversationStatus,
    Message,
    Sender,
)
from agents.services.assignment import conversation_route
from agents.services.conversations import conversation_message_post
from tests.fixtures.agents import (
    FRAME_TIMEOUT,
    console_communicator,
    console_receive,
    make_agent,
    make_conversation,
)
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def post(conversation_id: int, client_message_id: str, text: str = "hello") -> None:
    conversation_message_post(
        conversation_id=conversation_id,
        sender=Sender.VISITOR,
        client_message_id=client_message_id,
        text=text,
        now=timezone.now(),
    )


def state(conversation_id: int) -> tuple:
    c = Conversation.objects.get(pk=conversation_id)
    return (
        c.status,
        c.agent_id,
        c.disposition,
        c.last_seq,
        Message.objects.filter(conversation_id=conversation_id).count(),
    )


def agent_row(agent_id: int) -> AgentProfile:
    return AgentProfile.objects.get(pk=agent_id)


# --- who may connect -------------------------------------------------------------------


async def test_console_without_login_is_closed_with_4403(site, sockets):
    # when
    outcome = await sockets.refused(await console_communicator(None))

    # then
    assert outcome == {"type": "websocket.close", "code": 4403}


async def test_logged_in_user_outside_the_agent_groups_is_closed_with_4403(site, sockets):
    # given: a profile, but not in the Agents or Supervisors group
    agent = await db(make_agent)(site, group="")
    user = await db(lambda: agent.user)()

    # when
    outcome = await sockets.refused(await console_communicator(user))

    # then
    assert outcome == {"type": "websocket.close", "code": 4403}


async def test_group_member_without_an_agent_profile_is_closed_with_4403(site, sockets):
    # given
    def member() -> User:
        user = User.objects.create_user(username="no-profile")
        user.groups.add(Group.objects.get_or_create(name="Agents")[0])
        return user

    user = await db(member)()

    # when
    outcome = await sockets.refused(await console_communicator(user))

    # then
    assert outcome == {"type": "websocket.close", "code": 4403}


async def test_deactivated_agent_is_closed_with_4403(site, sockets):
    # given: logged in, then deactivated
    agent = await db(make_agent)(site)
    user = await db(lambda: agent.user)()
    ws = await console_communicator(user)
    await db(User.objects.filter(pk=user.pk).update)(is_active=False)

    # when
    outcome = await sockets.refused(ws)

    # then
    assert outcome == {"type": "websocket.close", "code": 4403}


@pytest.mark.parametrize("origin", ["https://evil.example", None])
async def test_console_from_a_foreign_origin_is_refused_before_the_handshake(site, sockets, origin):
    # given: an agent's session cookie, sent by another site's page (or no Origin), of an
    # agent who is offline
    agent = await db(make_agent)(site, online=False)
    user = await db(lambda: agent.user)()

    # when
    outcome = await sockets.refused(await console_communicator(user, origin=origin))

    # then: refused without accepting (daphne answers the handshake with HTTP 403, as
    # docs/REALTIME.md says), so the page learns nothing, and the consumer never ran:
    # the agent is still offline
    assert outcome == {"type": "websocket.close"}
    assert await db(lambda: AgentProfile.objects.get(pk=agent.pk).status)() == "offline"


# --- hello and presence ----------------------------------------------------------------


async def test_connecting_puts_the_agent_online_and_says_hello(site, sockets):
    # given: offline, with one active chat; a colleague's chat and a waiting chat (both
    # agents are full, so it keeps waiting)
    ada = await db(make_agent)(site, name="Ada", online=False, capacity=1)
    bea = await db(make_agent)(site, name="Bea", capacity=1)
    mine = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    await db(make_conversation)(site, visitor_id="v2", agent=bea)
    waiting = await db(make_conversation)(site, visitor_id="v3", urgency=70)

    # when
    _, hello = await sockets.console(ada)

    # then
    assert hello["agent"] == {
        "id": ada.pk,
        "display_name": "Ada",
        "status": "online",
        "capacity": 1,
        "load": 1,
        "is_supervisor": False,
    }
    assert [c["id"] for c in hello["conversations"]] == [mine.pk]
    assert [(q["kind"], q["conversation_id"]) for q in hello["queue"]] == [("chat", waiting.pk)]
    stored = await db(agent_row)(ada.pk)
    assert stored.status == AgentStatus.ONLINE
    assert stored.last_heartbeat_at is not None


async def test_supervisor_hello_has_every_active_chat_of_the_site(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    boss = await db(make_agent)(site, name="Boss", supervisor=True)
    first = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    second = await db(make_conversation)(site, visitor_id="v2", agent=boss)
    other_site = await db(make_site)(name="Other")
    await db(make_conversation)(other_site, visitor_id="v3", agent=None)

    # when
    _, hello = await sockets.console(boss)

    # then
    assert [c["id"] for c in hello["conversations"]] == [first.pk, second.pk]
    assert hello["agent"]["is_supervisor"] is True


async def test_an_agent_coming_online_takes_the_waiting_chats(site, sockets):
    # given: two chats waited while nobody was online
    ada = await db(make_agent)(site, name="Ada", online=False, capacity=2)
    first = await db(make_conversation)(site, visitor_id="v1", urgency=60)
    second = await db(make_conversation)(site, visitor_id="v2", urgency=30)

    # when
    _, hello = await sockets.console(ada)

    # then
    assert [c["id"] for c in hello["conversations"]] == [first.pk, second.pk]
    assert hello["queue"] == []
    assert hello["agent"]["load"] == 2
    assert await db(state)(first.pk) == (ConversationStatus.ACTIVE, ada.pk, "", 0, 0)


async def test_heartbeat_keeps_the_agent_online(site, sockets):
    # given: the last heartbeat was a while ago
    ada = await db(make_agent)(site, name="Ada")
    ws, _ = await sockets.console(ada)
    earlier = timezone.now() - timedelta(seconds=30)
    await db(AgentProfile.objects.filter(pk=ada.pk).update)(last_heartbeat_at=earlier)

    # when
    await ws.send_json_to({"type": "presence.heartbeat"})

    # then
    assert await console_receive(ws) == {"type": "pong"}
    assert (await db(agent_row)(ada.pk)).last_heartbeat_at > earlier


async def test_agent_sets_away_and_gets_no_new_chats(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    ws, _ = await sockets.console(ada)

    # when
    await ws.send_json_to({"type": "status.set", "status": "away"})
    answer = await console_receive(ws)
    waiting = await db(make_conversation)(site, visitor_id="v1")
    await db(conversation_route)(conversation=waiting, now=timezone.now())

    # then
    assert answer == {"type": "status", "status": "away"}
    assert (await db(agent_row)(ada.pk)).status == AgentStatus.AWAY
    assert await db(state)(waiting.pk) == (ConversationStatus.QUEUED, None, "", 0, 0)


async def test_back_online_takes_a_waiting_chat(site, sockets):
    # given: away while a chat waits
    ada = await db(make_agent)(site, name="Ada")
    ws, _ = await sockets.console(ada)
    await ws.send_json_to({"type": "status.set", "status": "away"})
    assert await console_receive(ws) == {"type": "status", "status": "away"}
    waiting = await db(make_conversation)(site, visitor_id="v1")

    # when
    await ws.send_json_to({"type": "status.set", "status": "online"})
    frames = [await console_receive(ws), await console_receive(ws)]

    # then
    assert await db(state)(waiting.pk) == (ConversationStatus.ACTIVE, ada.pk, "", 0, 0)
    assert sorted(f["type"] for f in frames) == ["conversation", "status"]


async def test_unknown_status_is_an_invalid_frame(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    ws, _ = await sockets.console(ada)

    # when
    await ws.send_json_to({"type": "status.set", "status": "offline"})

    # then
    assert await console_receive(ws) == {
        "type": "error",
        "code": "invalid_frame",
        "message": "status must be 'online' or 'away'.",
        "field": "status",
    }
    assert (await db(agent_row)(ada.pk)).status == AgentStatus.ONLINE


async def test_garbage_on_the_console_socket_gets_an_error_and_the_socket_stays_usable(
    site, sockets
):
    # given
    ada = await db(make_agent)(site, name="Ada")
    ws, _ = await sockets.console(ada)

    # when
    await ws.send_to(text_data="{{{")
    error = await console_receive(ws)
    await ws.send_json_to({"type": "invitation.accept", "invitation_id": 1})
    unknown = await console_receive(ws)
    await ws.send_json_to({"type": "ping"})

    # then
    assert (error["code"], error["message"]) == ("invalid_frame", "The frame is not valid JSON.")
    assert unknown["message"] == "Unknown frame type 'invitation.accept'."
    assert await console_receive(ws) == {"type": "pong"}


# --- claim -----------------------------------------------------------------------------


async def test_second_claim_of_the_same_chat_gets_invalid_state(site, sockets):
    # given: a waiting chat; Ada and Bea are online but full, then a seat frees for both
    ada = await db(make_agent)(site, name="Ada", capacity=1)
    bea = await db(make_agent)(site, name="Bea", capacity=1)
    await db(make_conversation)(site, visitor_id="busy-a", agent=ada)
    await db(make_conversation)(site, visitor_id="busy-b", agent=bea)
    waiting = await db(make_conversation)(site, visitor_id="shopper")
    ada_ws, ada_hello = await sockets.console(ada)
    bea_ws, _ = await sockets.console(bea)
    await db(AgentProfile.objects.update)(capacity=2)

    # when
    await ada_ws.send_json_to({"type": "queue.claim", "conversation_id": waiting.pk})
    claimed = await console_receive(ada_ws)
    await bea_ws.send_json_to({"type": "queue.claim", "conversation_id": waiting.pk})
    refused = await console_receive(bea_ws)

    # then
    assert [q["conversation_id"] for q in ada_hello["queue"]] == [waiting.pk]
    assert claimed["type"] == "conversation"
    assert (claimed["conversation"]["id"], claimed["conversation"]["agent_id"]) == (
        waiting.pk,
        ada.pk,
    )
    assert refused == {
        "type": "error",
        "code": "invalid_state",
        "message": "Someone else has taken this conversation.",
    }
    assert await db(state)(waiting.pk) == (ConversationStatus.ACTIVE, ada.pk, "", 0, 0)


# --- messages, typing, read receipts ---------------------------------------------------


async def test_agent_reply_reaches_the_shopper_with_the_agents_name(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    conversation = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    console, _ = await sockets.console(ada)
    widget, _ = await sockets.widget(site, "v1")

    # when
    await console.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": "a-1",
            "text": "Hi, I'm Ada <3",
        }
    )

    # then
    at_shopper = await widget.receive_json_from(timeout=FRAME_TIMEOUT)
    assert at_shopper == await console_receive(console)
    assert (
        at_shopper["message"]["seq"],
        at_shopper["message"]["sender"],
        at_shopper["message"]["author_name"],
        at_shopper["message"]["text"],
    ) == (1, "agent", "Ada", "Hi, I'm Ada <3")


async def test_agent_cannot_post_in_or_read_a_colleagues_chat(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    bea = await db(make_agent)(site, name="Bea")
    theirs = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    await db(post)(theirs.pk, "v-1")
    ws, _ = await sockets.console(bea)

    # when
    answers = []
    for frame in (
        {
            "type": "message.send",
            "conversation_id": theirs.pk,
            "client_message_id": "b-1",
            "text": "x",
        },
        {"type": "sync", "conversation_id": theirs.pk, "after_seq": 0},
        {"type": "read", "conversation_id": theirs.pk, "seq": 1},
        {"type": "conversation.close", "conversation_id": theirs.pk, "disposition": "other"},
    ):
        await ws.send_json_to(frame)
        answers.append(await console_receive(ws))

    # then
    assert [(a["type"], a["code"]) for a in answers] == [("error", "not_found")] * 4
    assert await db(state)(theirs.pk) == (ConversationStatus.ACTIVE, ada.pk, "", 1, 1)


async def test_typing_reaches_the_other_side_only(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    conversation = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    console, _ = await sockets.console(ada)
    widget, _ = await sockets.widget(site, "v1")

    # when
    await widget.send_json_to({"type": "typing", "conversation_id": conversation.pk})
    at_agent = await console_receive(console)
    await console.send_json_to({"type": "typing", "conversation_id": conversation.pk})
    at_shopper = await widget.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert at_agent == {"type": "typing", "conversation_id": conversation.pk, "sender": "visitor"}
    assert at_shopper == {"type": "typing", "conversation_id": conversation.pk, "sender": "agent"}
    assert await widget.receive_nothing()
    assert await db(state)(conversation.pk) == (ConversationStatus.ACTIVE, ada.pk, "", 0, 0)


async def test_read_receipts_reach_the_other_side_and_never_go_backwards(site, sockets):
    # given: three messages from the shopper
    ada = await db(make_agent)(site, name="Ada")
    conversation = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    for n in range(1, 4):
        await db(post)(conversation.pk, f"v-{n}")
    console, _ = await sockets.console(ada)
    widget, _ = await sockets.widget(site, "v1")

    # when: the agent reads up to 2, then claims 1, then claims far beyond the end
    await console.send_json_to({"type": "read", "conversation_id": conversation.pk, "seq": 2})
    first = await widget.receive_json_from(timeout=FRAME_TIMEOUT)
    await console.send_json_to({"type": "read", "conversation_id": conversation.pk, "seq": 1})
    await console.send_json_to({"type": "read", "conversation_id": conversation.pk, "seq": 99})
    second = await widget.receive_json_from(timeout=FRAME_TIMEOUT)

    # then: 2, nothing for 1, then 3 (the last seq), never 99
    reader = {"type": "read", "conversation_id": conversation.pk, "reader": "agent"}
    assert (first, second) == ({**reader, "seq": 2}, {**reader, "seq": 3})
    assert await widget.receive_nothing()
    stored = await db(Conversation.objects.get)(pk=conversation.pk)
    assert (stored.agent_read_seq, stored.visitor_read_seq) == (3, 0)


async def test_shoppers_read_receipt_reaches_the_agent(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    conversation = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    await db(post)(conversation.pk, "v-1")
    console, _ = await sockets.console(ada)
    widget, _ = await sockets.widget(site, "v1")

    # when
    await widget.send_json_to({"type": "read", "conversation_id": conversation.pk, "seq": 1})

    # then
    assert await console_receive(console) == {
        "type": "read",
        "conversation_id": conversation.pk,
        "reader": "visitor",
        "seq": 1,
    }


# --- transfer --------------------------------------------------------------------------


async def test_transfer_gives_the_chat_to_a_colleague_who_sees_the_system_message(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    bea = await db(make_agent)(site, name="Bea")
    conversation = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    ada_ws, _ = await sockets.console(ada)
    bea_ws, bea_hello = await sockets.console(bea)
    widget, _ = await sockets.widget(site, "v1")

    # when
    await ada_ws.send_json_to(
        {"type": "transfer", "conversation_id": conversation.pk, "agent_id": bea.pk}
    )
    arrived = await console_receive(bea_ws)
    await bea_ws.send_json_to({"type": "sync", "conversation_id": conversation.pk, "after_seq": 0})
    synced = [await console_receive(bea_ws) for _ in range(3)]
    at_shopper = [await widget.receive_json_from(timeout=FRAME_TIMEOUT) for _ in range(2)]

    # then: Bea owns it and reads the persisted hand-over; the shopper sees both
    assert bea_hello["conversations"] == []
    assert (arrived["type"], arrived["conversation"]["agent_id"]) == ("conversation", bea.pk)
    assert [f["type"] for f in synced] == ["conversation", "message", "synced"]
    system = synced[1]["message"]
    assert (system["seq"], system["sender"], system["author_name"], system["text"]) == (
        1,
        "system",
        "CartAssist",
        "Bea has taken over this conversation.",
    )
    assert [f["type"] for f in at_shopper] == ["conversation", "message"]
    assert at_shopper[0]["conversation"]["agent_name"] == "Bea"
    assert at_shopper[1]["message"] == system
    assert await db(state)(conversation.pk) == (ConversationStatus.ACTIVE, bea.pk, "", 1, 1)


async def test_transfer_to_an_offline_colleague_is_refused_over_the_socket(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    bea = await db(make_agent)(site, name="Bea", online=False)
    conversation = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    ws, _ = await sockets.console(ada)

    # when
    await ws.send_json_to(
        {"type": "transfer", "conversation_id": conversation.pk, "agent_id": bea.pk}
    )

    # then
    assert await console_receive(ws) == {
        "type": "error",
        "code": "invalid_state",
        "message": "Bea is not online.",
    }
    assert await db(state)(conversation.pk) == (ConversationStatus.ACTIVE, ada.pk, "", 0, 0)


# --- close -----------------------------------------------------------------------------


async def test_agent_closes_with_a_disposition_and_the_shopper_is_told(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    conversation = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    console, _ = await sockets.console(ada)
    widget, _ = await sockets.widget(site, "v1")

    # when
    await console.send_json_to(
        {
            "type": "conversation.close",
            "conversation_id": conversation.pk,
            "disposition": "converted",
        }
    )

    # then
    closed = {"type": "conversation.closed", "conversation_id": conversation.pk, "reason": "agent"}
    assert await widget.receive_json_from(timeout=FRAME_TIMEOUT) == closed
    assert await console_receive(console) == closed
    stored = await db(Conversation.objects.get)(pk=conversation.pk)
    assert (stored.status, stored.close_reason, stored.disposition) == (
        ConversationStatus.CLOSED,
        CloseReason.AGENT,
        "converted",
    )


async def test_close_with_an_unknown_disposition_is_refused(site, sockets):
    # given
    ada = await db(make_agent)(site, name="Ada")
    conversation = await db(make_conversation)(site, visitor_id="v1", agent=ada)
    console, _ = await sockets.console(ada)

    # when
    await console.send_json_to(
        {"type": "conversation.close", "conversation_id": conversation.pk, "disposition": "meh"}
    )

    # then
    assert await console_receive(console) == {
        "type": "error",
        "code": "invalid_frame",
        "message": "disposition must be one of resolved, converted, not_interested, "
        "no_response, other.",
        "field": "disposition",
    }
    assert await db(state)(conversation.pk) == (ConversationStatus.ACTIVE, ada.pk, "", 0, 0)
