"""The shopper's socket through the real ASGI application (docs/REALTIME.md, "Widget")."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.frames import MAX_FRAME_BYTES
from agents.models import (
    CloseReason,
    Conversation,
    ConversationStatus,
    Invitation,
    InvitationStatus,
    Message,
    Sender,
)
from agents.services.conversations import conversation_message_post
from agents.tokens import visitor_token_issue
from tests.fixtures.agents import (
    FRAME_TIMEOUT,
    console_receive,
    make_agent,
    make_conversation,
    make_invitation,
    make_stalled_cart,
    visitor_token,
    widget_communicator,
)
from tests.fixtures.sites import SHOP_ORIGIN, make_site

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def post(conversation_id: int, client_message_id: str, text: str, **kwargs) -> None:
    conversation_message_post(
        conversation_id=conversation_id,
        sender=kwargs.pop("sender", Sender.VISITOR),
        client_message_id=client_message_id,
        text=text,
        now=timezone.now(),
        **kwargs,
    )


def conversation_state(conversation_id: int) -> tuple:
    c = Conversation.objects.get(pk=conversation_id)
    return (
        c.status,
        c.last_seq,
        c.visitor_read_seq,
        c.agent_read_seq,
        Message.objects.filter(conversation_id=conversation_id).count(),
    )


# --- handshake: token and origin -------------------------------------------------------


async def test_new_visitor_gets_an_empty_hello(site, sockets):
    # when
    _, hello = await sockets.widget(site, "visitor-1")

    # then
    assert hello == {
        "type": "hello",
        "visitor_id": "visitor-1",
        "invitations": [],
        "conversations": [],
        "offers": [],
        "grants": [],
    }


async def test_socket_without_token_is_closed_with_4401(site, sockets):
    # when
    outcome = await sockets.refused(widget_communicator(""))

    # then
    assert outcome == {"type": "websocket.close", "code": 4401}


async def test_socket_with_forged_token_is_closed_with_4401(site, sockets):
    # given: a genuine token for visitor-1 with visitor-2's payload spliced in
    genuine = await db(visitor_token)(site, "visitor-1")
    other = await db(visitor_token)(site, "visitor-2")
    forged = other.split(":")[0] + ":" + ":".join(genuine.split(":")[1:])

    # when
    outcome = await sockets.refused(widget_communicator(forged))

    # then
    assert outcome == {"type": "websocket.close", "code": 4401}


async def test_socket_with_expired_token_is_closed_with_4401(site, sockets, settings):
    # given: a token issued one second more than its lifetime ago
    settings.CARTASSIST_VISITOR_TOKEN_TTL = timedelta(hours=24)
    issued = timezone.now() - timedelta(hours=24, seconds=1)
    with time_machine.travel(issued, tick=False):
        token, _ = visitor_token_issue(site_id=site.pk, visitor_id="visitor-1", now=issued)

    # when
    outcome = await sockets.refused(widget_communicator(token))

    # then
    assert outcome == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "https://shop.example.evil", "https://shop.example/", None],
)
async def test_socket_from_an_origin_not_on_the_sites_list_is_closed_with_4403(
    site, sockets, origin
):
    # given
    token = await db(visitor_token)(site, "visitor-1")

    # when
    outcome = await sockets.refused(widget_communicator(token, origin=origin))

    # then
    assert outcome == {"type": "websocket.close", "code": 4403}


async def test_token_of_one_site_with_the_origin_of_another_is_closed_with_4403(site, sockets):
    # given: another shop's page asks with a token for this site
    await db(make_site)(name="Other", allowed_origins=["https://other.example"])
    token = await db(visitor_token)(site, "visitor-1")

    # when
    outcome = await sockets.refused(widget_communicator(token, origin="https://other.example"))

    # then
    assert outcome == {"type": "websocket.close", "code": 4403}


# --- garbage frames: an error frame, and the socket stays usable ------------------------

GARBAGE = [
    ("text", "not json", "invalid_frame", "The frame is not valid JSON."),
    ("bytes", b'{"type": "ping"}', "invalid_frame", "Send JSON text frames, not binary."),
    ("text", '[{"type": "ping"}]', "invalid_frame", "A frame is a JSON object with a 'type'."),
    ("text", '"ping"', "invalid_frame", "A frame is a JSON object with a 'type'."),
    ("text", '{"type": "teleport"}', "invalid_frame", "Unknown frame type 'teleport'."),
    ("text", '{"no_type": 1}', "invalid_frame", "Unknown frame type 'None'."),
    ("text", '{"type": "sync", "conversation_id": 1}', "invalid_frame", "'after_seq' is required."),
    (
        "text",
        '{"type": "sync", "conversation_id": "1", "after_seq": 0}',
        "invalid_frame",
        "'conversation_id' must be a non-negative integer.",
    ),
    (
        "text",
        '{"type": "read", "conversation_id": 1, "seq": -1}',
        "invalid_frame",
        "'seq' must be a non-negative integer.",
    ),
    (
        "text",
        '{"type": "ping", "pad": "' + "x" * MAX_FRAME_BYTES + '"}',
        "invalid_frame",
        f"Frames are limited to {MAX_FRAME_BYTES} bytes.",
    ),
    ("text", "[" * 50_000, "invalid_frame", f"Frames are limited to {MAX_FRAME_BYTES} bytes."),
    ("text", "[" * 10_000, "invalid_frame", "The frame is not valid JSON."),
]


@pytest.mark.parametrize(("kind", "data", "code", "message"), GARBAGE)
async def test_garbage_frame_gets_an_error_and_the_socket_stays_usable(
    site, sockets, kind, data, code, message
):
    # given
    ws, _ = await sockets.widget(site)

    # when
    if kind == "text":
        await ws.send_to(text_data=data)
    else:
        await ws.send_to(bytes_data=data)
    error = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    await ws.send_json_to({"type": "ping"})

    # then
    assert (error["type"], error["code"], error["message"]) == ("error", code, message)
    assert await ws.receive_json_from(timeout=FRAME_TIMEOUT) == {"type": "pong"}


async def test_many_garbage_frames_in_a_row_leave_the_socket_usable(site, sockets):
    # given
    ws, _ = await sockets.widget(site)

    # when
    for kind, data, _, _ in GARBAGE:
        await (ws.send_to(text_data=data) if kind == "text" else ws.send_to(bytes_data=data))
    errors = [await ws.receive_json_from(timeout=FRAME_TIMEOUT) for _ in GARBAGE]
    await ws.send_json_to({"type": "ping"})

    # then
    assert [e["message"] for e in errors] == [message for *_, message in GARBAGE]
    assert await ws.receive_json_from(timeout=FRAME_TIMEOUT) == {"type": "pong"}


# --- one visitor cannot reach another's conversation -----------------------------------


async def test_token_for_visitor_a_cannot_read_or_write_visitor_bs_conversation(site, sockets):
    # given: B has an active conversation with two messages; A is connected
    agent = await db(make_agent)(site)
    theirs = await db(make_conversation)(site, visitor_id="visitor-b", agent=agent)
    await db(post)(theirs.pk, "b-1", "my address is 1 Main St")
    await db(post)(theirs.pk, "b-2", "and my phone is 555")
    before = await db(conversation_state)(theirs.pk)
    ws, hello = await sockets.widget(site, "visitor-a")
    attempts = [
        {"type": "sync", "conversation_id": theirs.pk, "after_seq": 0},
        {
            "type": "message.send",
            "conversation_id": theirs.pk,
            "client_message_id": "a-1",
            "text": "hi",
        },
        {"type": "read", "conversation_id": theirs.pk, "seq": 2},
        {"type": "typing", "conversation_id": theirs.pk},
        {"type": "conversation.close", "conversation_id": theirs.pk},
    ]

    # when
    answers = []
    for attempt in attempts:
        await ws.send_json_to(attempt)
        answers.append(await ws.receive_json_from(timeout=FRAME_TIMEOUT))

    # then: every answer looks exactly like an id that does not exist
    assert hello["conversations"] == []
    assert answers == [
        {"type": "error", "code": "not_found", "message": "No such conversation."},
        {"type": "error", "code": "not_found", "message": "No such conversation."},
        {"type": "error", "code": "not_found", "message": "No such conversation."},
        {"type": "error", "code": "not_found", "message": "No such conversation."},
        {"type": "error", "code": "not_found", "message": "No such conversation."},
    ]
    assert (
        await db(conversation_state)(theirs.pk)
        == before
        == (
            ConversationStatus.ACTIVE,
            2,
            0,
            0,
            2,
        )
    )
    assert await ws.receive_nothing()


async def test_another_visitors_id_answers_like_a_missing_one(site, sockets):
    # given
    theirs = await db(make_conversation)(site, visitor_id="visitor-b")
    ws, _ = await sockets.widget(site, "visitor-a")

    # when
    await ws.send_json_to({"type": "sync", "conversation_id": theirs.pk, "after_seq": 0})
    theirs_answer = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    await ws.send_json_to({"type": "sync", "conversation_id": theirs.pk + 1000, "after_seq": 0})
    missing_answer = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert theirs_answer == missing_answer


async def test_same_visitor_id_on_another_site_is_another_visitor(site, sockets):
    # given: the same visitor id at another shop has a conversation there
    other = await db(make_site)(name="Other", allowed_origins=[SHOP_ORIGIN])
    theirs = await db(make_conversation)(other, visitor_id="visitor-1")
    ws, hello = await sockets.widget(site, "visitor-1")

    # when
    await ws.send_json_to({"type": "sync", "conversation_id": theirs.pk, "after_seq": 0})

    # then
    assert hello["conversations"] == []
    assert (await ws.receive_json_from(timeout=FRAME_TIMEOUT))["code"] == "not_found"


async def test_token_for_visitor_a_cannot_answer_visitor_bs_invitation(site, sockets):
    # given
    cart = await db(make_stalled_cart)(site, visitor_id="visitor-b")
    invitation = await db(make_invitation)(cart)
    ws, hello = await sockets.widget(site, "visitor-a")

    # when
    answers = []
    for frame_type in ("invitation.accept", "invitation.dismiss"):
        await ws.send_json_to({"type": frame_type, "invitation_id": invitation.pk})
        answers.append(await ws.receive_json_from(timeout=FRAME_TIMEOUT))

    # then
    assert hello["invitations"] == []
    assert answers == [
        {"type": "error", "code": "not_found", "message": "No such invitation."},
        {"type": "error", "code": "not_found", "message": "No such invitation."},
    ]
    refreshed = await db(Invitation.objects.get)(pk=invitation.pk)
    assert (refreshed.status, refreshed.responded_at) == (InvitationStatus.PENDING, None)
    assert await db(Conversation.objects.count)() == 0


async def test_visitor_a_never_receives_visitor_bs_messages(site, sockets):
    # given: both connected, each with a conversation
    agent = await db(make_agent)(site)
    mine = await db(make_conversation)(site, visitor_id="visitor-a", agent=agent)
    theirs = await db(make_conversation)(site, visitor_id="visitor-b", agent=agent)
    ws_a, _ = await sockets.widget(site, "visitor-a")
    ws_b, _ = await sockets.widget(site, "visitor-b")

    # when
    await db(post)(theirs.pk, "b-1", "for B only")
    await db(post)(mine.pk, "a-1", "for A")

    # then
    frame_b = await ws_b.receive_json_from(timeout=FRAME_TIMEOUT)
    frame_a = await ws_a.receive_json_from(timeout=FRAME_TIMEOUT)
    assert (frame_b["conversation_id"], frame_b["message"]["text"]) == (theirs.pk, "for B only")
    assert (frame_a["conversation_id"], frame_a["message"]["text"]) == (mine.pk, "for A")
    assert await ws_a.receive_nothing()


# --- sending ---------------------------------------------------------------------------


async def test_sent_message_is_persisted_and_comes_back_with_its_seq(site, sockets):
    # given
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    ws, hello = await sockets.widget(site)

    # when
    await ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": "m-1",
            "text": "Is delivery cheaper to Berlin?",
        }
    )
    frame = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    stored = await db(Message.objects.get)(conversation=conversation)
    assert [c["id"] for c in hello["conversations"]] == [conversation.pk]
    assert frame == {
        "type": "message",
        "conversation_id": conversation.pk,
        "message": {
            "seq": 1,
            "sender": "visitor",
            "author_name": "You",
            "agent": None,
            "kind": "text",
            "meta": {},
            "text": "Is delivery cheaper to Berlin?",
            "client_message_id": "m-1",
            "created_at": stored.created_at.isoformat().replace("+00:00", "Z"),
        },
    }
    assert (stored.seq, stored.sender, stored.text) == (1, Sender.VISITOR, frame["message"]["text"])


async def test_message_over_the_limit_is_too_long_and_nothing_is_stored(site, sockets, settings):
    # given
    settings.CARTASSIST_MAX_MESSAGE_LENGTH = 20
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    ws, _ = await sockets.widget(site)

    # when
    await ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": "long-1",
            "text": "x" * 21,
        }
    )
    error = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert error == {
        "type": "error",
        "code": "too_long",
        "message": "Messages are limited to 20 characters.",
        "field": "text",
        "ref": "long-1",
    }
    assert await db(conversation_state)(conversation.pk) == (ConversationStatus.ACTIVE, 0, 0, 0, 0)


async def test_message_at_the_default_limit_is_accepted_and_one_over_is_not(site, sockets):
    # given: the documented limit, 2000 characters
    conversation = await db(make_conversation)(site)
    ws, _ = await sockets.widget(site)
    base = {"type": "message.send", "conversation_id": conversation.pk}

    # when
    await ws.send_json_to({**base, "client_message_id": "over", "text": "y" * 2001})
    over = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    await ws.send_json_to({**base, "client_message_id": "at", "text": "y" * 2000})
    at = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert (over["code"], over["ref"]) == ("too_long", "over")
    assert (at["type"], at["message"]["seq"], len(at["message"]["text"])) == ("message", 1, 2000)


async def test_html_in_a_message_is_stored_and_sent_verbatim(site, sockets):
    # given
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    console, _ = await sockets.console(agent)
    ws, _ = await sockets.widget(site)
    text = '<script>alert("x")</script> <b>bold</b> &amp; <img src=x onerror=alert(1)>'

    # when
    await ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": "html-1",
            "text": text,
        }
    )

    # then: the same characters in the database and on both sockets (clients use textContent)
    assert (await ws.receive_json_from(timeout=FRAME_TIMEOUT))["message"]["text"] == text
    assert (await console_receive(console))["message"]["text"] == text
    assert (await db(Message.objects.get)(conversation=conversation)).text == text


async def test_sending_to_a_closed_conversation_is_refused_and_nothing_is_stored(site, sockets):
    # given
    conversation = await db(make_conversation)(site, status=ConversationStatus.CLOSED)
    ws, _ = await sockets.widget(site)

    # when
    await ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": "late-1",
            "text": "still there?",
        }
    )

    # then
    assert await ws.receive_json_from(timeout=FRAME_TIMEOUT) == {
        "type": "error",
        "code": "closed",
        "message": "This conversation is closed.",
        "ref": "late-1",
    }
    assert await db(conversation_state)(conversation.pk) == (ConversationStatus.CLOSED, 0, 0, 0, 0)


async def test_messages_beyond_the_burst_are_rate_limited_and_not_stored(site, sockets, settings):
    # given: one message per 10 s
    settings.CARTASSIST_SOCKET_MESSAGE_BURST = 1
    conversation = await db(make_conversation)(site)
    ws, _ = await sockets.widget(site)
    base = {"type": "message.send", "conversation_id": conversation.pk, "text": "hi"}

    # when
    await ws.send_json_to({**base, "client_message_id": "m-1"})
    first = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    await ws.send_json_to({**base, "client_message_id": "m-2"})
    second = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert first["message"]["seq"] == 1
    assert second == {
        "type": "error",
        "code": "rate_limited",
        "message": "Too many messages; wait a moment.",
        "ref": "m-2",
    }
    assert await db(conversation_state)(conversation.pk) == (ConversationStatus.QUEUED, 1, 0, 0, 1)


# --- resume from a sequence number -----------------------------------------------------


async def test_reconnect_with_sync_after_seq_receives_exactly_what_was_missed(site, sockets):
    # given: five messages sent, then the socket drops
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    ws, _ = await sockets.widget(site)
    for n in range(1, 6):
        await ws.send_json_to(
            {
                "type": "message.send",
                "conversation_id": conversation.pk,
                "client_message_id": f"m-{n}",
                "text": f"message {n}",
            }
        )
        assert (await ws.receive_json_from(timeout=FRAME_TIMEOUT))["message"]["seq"] == n
    await ws.disconnect()

    # when: the client saw up to seq 2
    again, hello = await sockets.widget(site)
    await again.send_json_to({"type": "sync", "conversation_id": conversation.pk, "after_seq": 2})
    frames = [await again.receive_json_from(timeout=FRAME_TIMEOUT) for _ in range(4)]

    # then
    assert [c["last_seq"] for c in hello["conversations"]] == [5]
    assert [(f["type"], f.get("message", {}).get("seq")) for f in frames] == [
        ("message", 3),
        ("message", 4),
        ("message", 5),
        ("synced", None),
    ]
    assert [f["message"]["text"] for f in frames[:3]] == ["message 3", "message 4", "message 5"]
    assert frames[3] == {"type": "synced", "conversation_id": conversation.pk, "last_seq": 5}
    assert await again.receive_nothing()


async def test_messages_sent_while_away_arrive_on_sync_and_live_ones_after(site, sockets):
    # given: the agent answers twice while the shopper's socket is down
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    await db(post)(conversation.pk, "v-1", "hello")
    await db(post)(conversation.pk, "a-1", "hi!", sender=Sender.AGENT, agent=agent)
    await db(post)(conversation.pk, "a-2", "how can I help?", sender=Sender.AGENT, agent=agent)
    ws, _ = await sockets.widget(site)

    # when
    await ws.send_json_to({"type": "sync", "conversation_id": conversation.pk, "after_seq": 1})
    synced = [await ws.receive_json_from(timeout=FRAME_TIMEOUT) for _ in range(3)]
    await db(post)(conversation.pk, "a-3", "still there?", sender=Sender.AGENT, agent=agent)
    live = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert [(f["message"]["seq"], f["message"]["author_name"]) for f in synced[:2]] == [
        (2, "Ada"),
        (3, "Ada"),
    ]
    assert synced[2] == {"type": "synced", "conversation_id": conversation.pk, "last_seq": 3}
    assert (live["type"], live["message"]["seq"], live["message"]["text"]) == (
        "message",
        4,
        "still there?",
    )
    assert await ws.receive_nothing()


async def test_sync_from_beyond_the_last_seq_does_not_silence_later_messages(site, sockets):
    # given: a client with a wrong (too high) idea of the last seq
    conversation = await db(make_conversation)(site)
    await db(post)(conversation.pk, "v-1", "hello")
    ws, _ = await sockets.widget(site)

    # when
    await ws.send_json_to({"type": "sync", "conversation_id": conversation.pk, "after_seq": 50})
    synced = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    await db(post)(conversation.pk, "v-2", "anyone?")
    live = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then: the server reports the real last seq and still delivers seq 2
    assert synced == {"type": "synced", "conversation_id": conversation.pk, "last_seq": 1}
    assert (live["type"], live["message"]["seq"]) == ("message", 2)


# --- closing ---------------------------------------------------------------------------


async def test_visitor_closes_the_conversation_and_both_sides_are_told(site, sockets):
    # given
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    console, _ = await sockets.console(agent)
    ws, _ = await sockets.widget(site)

    # when
    await ws.send_json_to({"type": "conversation.close", "conversation_id": conversation.pk})

    # then
    closed = {
        "type": "conversation.closed",
        "conversation_id": conversation.pk,
        "reason": "visitor",
    }
    widget_frames = [await ws.receive_json_from(timeout=FRAME_TIMEOUT) for _ in range(2)]
    assert widget_frames[0] == closed
    assert widget_frames[1]["type"] == "conversation"
    assert widget_frames[1]["conversation"]["status"] == "closed"
    assert await console_receive(console) == closed
    stored = await db(Conversation.objects.get)(pk=conversation.pk)
    assert (stored.status, stored.close_reason, stored.disposition) == (
        ConversationStatus.CLOSED,
        CloseReason.VISITOR,
        "",
    )
    assert stored.closed_at is not None
