"""Live delivery when the channel layer fails (docs/REALTIME.md, "Delivery"; ADR 0011).

The in-memory layer stands in for Redis here; a layer that fails is the same layer with
``group_send`` or ``group_add`` raising, as the Redis layer does while Redis is down.
tests/integration/test_realtime_delivery.py stops and restarts a real Redis.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from agents.consumers.base import CLOSE_RESYNC
from agents.models import Conversation, ConversationStatus, Message, Sender
from agents.services.conversations import conversation_message_post
from tests.fixtures.agents import (
    FRAME_TIMEOUT,
    make_agent,
    make_conversation,
    make_invitation,
    make_stalled_cart,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


class LayerDown:
    """``with layer_down("group_send"):`` the channel layer's method raises, as the Redis
    layer's does while Redis is unreachable."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()

    def __call__(self, method: str) -> Any:
        layer = self.layer

        class Down:
            def __enter__(self) -> None:
                async def refuse(*args: Any, **kwargs: Any) -> None:
                    raise ConnectionError("Redis is down")

                setattr(layer, method, refuse)

            def __exit__(self, *exc: object) -> None:
                delattr(layer, method)

        return Down()


@pytest.fixture
def layer_down() -> LayerDown:
    return LayerDown()


def post(conversation_id: int, client_message_id: str, text: str, **kwargs: Any) -> None:
    conversation_message_post(
        conversation_id=conversation_id,
        sender=kwargs.pop("sender", Sender.VISITOR),
        client_message_id=client_message_id,
        text=text,
        now=timezone.now(),
        **kwargs,
    )


def published_seq(conversation_id: int) -> tuple[int, int]:
    c = Conversation.objects.get(pk=conversation_id)
    return c.last_seq, c.published_seq


def message_seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [f["message"]["seq"] for f in frames if f["type"] == "message"]


async def test_a_message_whose_publish_failed_is_published_by_the_next_one_in_order(
    site, sockets, layer_down
):
    # given: the shopper's socket follows the chat; the agent's message 1 is stored while
    # the layer is down, so its publish fails
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    ws, _ = await sockets.widget(site)
    with layer_down("group_send"):
        await db(post)(conversation.pk, "a-1", "hello", sender=Sender.AGENT, agent=agent)
    stored_while_down = await db(published_seq)(conversation.pk)
    assert await ws.receive_nothing()

    # when: the layer is back and the agent writes again
    await db(post)(conversation.pk, "a-2", "still there?", sender=Sender.AGENT, agent=agent)
    frames = [await ws.receive_json_from(timeout=FRAME_TIMEOUT) for _ in range(2)]

    # then: both arrive, once each, in order
    assert stored_while_down == (1, 0)
    assert [(f["message"]["seq"], f["message"]["text"]) for f in frames] == [
        (1, "hello"),
        (2, "still there?"),
    ]
    assert await db(published_seq)(conversation.pk) == (2, 2)
    assert await ws.receive_nothing()


async def test_a_retried_send_after_an_outage_is_answered_in_order_and_once(
    site, sockets, layer_down
):
    # given: while the layer is down the agent answers (seq 1) and the shopper's message
    # (seq 2) is stored, neither reaching the shopper's socket
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    ws, _ = await sockets.widget(site)
    send = {
        "type": "message.send",
        "conversation_id": conversation.pk,
        "client_message_id": "v-1",
        "text": "Is delivery free?",
    }
    with layer_down("group_send"):
        await db(post)(conversation.pk, "a-1", "Hi, I am Ada", sender=Sender.AGENT, agent=agent)
        await ws.send_json_to(send)
        assert await ws.receive_nothing()

    # when: the layer is back, the widget retries its unanswered message, then the agent
    # writes again
    await ws.send_json_to(send)
    answer = [await ws.receive_json_from(timeout=FRAME_TIMEOUT) for _ in range(2)]
    await db(post)(conversation.pk, "a-2", "Yes, over 50 EUR", sender=Sender.AGENT, agent=agent)
    live = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    await ws.send_json_to(send)  # a retry of a message the socket has sent

    # then: 1, 2, 3 — each once, in order; the retry stored nothing
    assert message_seqs([*answer, live]) == [1, 2, 3]
    assert [f["message"]["client_message_id"] for f in answer] == ["a-1", "v-1"]
    assert await ws.receive_nothing()
    assert await db(Message.objects.filter(conversation=conversation).count)() == 3


async def test_a_retried_send_on_the_same_socket_is_not_sent_twice(site, sockets):
    # given: the shopper's message was stored and echoed
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    ws, _ = await sockets.widget(site)
    send = {
        "type": "message.send",
        "conversation_id": conversation.pk,
        "client_message_id": "retry-me",
        "text": "hello?",
    }
    await ws.send_json_to(send)
    first = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # when: the client retries anyway
    await ws.send_json_to({**send, "text": "hello? (retried)"})

    # then: nothing new is stored or sent; the socket already has seq 1
    assert (first["type"], first["message"]["seq"], first["message"]["text"]) == (
        "message",
        1,
        "hello?",
    )
    assert await ws.receive_nothing()
    assert await db(Message.objects.filter(conversation=conversation).count)() == 1


async def test_invitation_accept_when_joining_the_group_fails_closes_with_4008_then_resumes(
    site, sockets, layer_down
):
    # given: an invitation on the shopper's socket; the layer fails at the group join
    await db(make_agent)(site, name="Ada")
    cart = await db(make_stalled_cart)(site)
    invitation = await db(make_invitation)(cart)
    ws, hello = await sockets.widget(site)
    assert [i["id"] for i in hello["invitations"]] == [invitation.pk]

    # when: the shopper accepts
    with layer_down("group_add"):
        await ws.send_json_to({"type": "invitation.accept", "invitation_id": invitation.pk})
        closed = await ws.receive_output(timeout=FRAME_TIMEOUT)
    again, resumed = await sockets.widget(site)

    # then: no internal error; the socket closes to resync, and the accepted chat is in
    # the next hello, assigned to Ada
    conversation = await db(Conversation.objects.select_related("agent").get)(invitation=invitation)
    assert closed == {"type": "websocket.close", "code": CLOSE_RESYNC}
    assert (conversation.status, conversation.agent.display_name) == (
        ConversationStatus.ACTIVE,
        "Ada",
    )
    assert [(c["id"], c["status"]) for c in resumed["conversations"]] == [
        (conversation.pk, "active")
    ]
    assert resumed["invitations"] == []


async def test_queue_claim_when_joining_the_group_fails_closes_with_4008_then_resumes(
    site, sockets, layer_down
):
    # given: an agent's console, then a queued chat
    agent = await db(make_agent)(site, name="Ada")
    ws, hello = await sockets.console(agent)
    conversation = await db(make_conversation)(site)
    assert hello["conversations"] == []

    # when
    with layer_down("group_add"):
        await ws.send_json_to({"type": "queue.claim", "conversation_id": conversation.pk})
        frames = []
        while True:
            output = await ws.receive_output(timeout=FRAME_TIMEOUT)
            if output["type"] == "websocket.close":
                break
            frames.append(output)
    again, resumed = await sockets.console(agent)

    # then
    assert output == {"type": "websocket.close", "code": CLOSE_RESYNC}
    assert [f for f in frames if '"error"' in f.get("text", "")] == []
    assert [c["id"] for c in resumed["conversations"]] == [conversation.pk]


async def test_a_layer_resync_event_closes_the_socket_with_4008(site, sockets):
    # given
    ws, _ = await sockets.widget(site)
    layer = get_channel_layer()

    # when: the layer tells its consumers that they may have missed frames
    from agents import realtime

    await layer.group_send(realtime.visitor_group(site.pk, "visitor-1"), {"type": "layer.resync"})

    # then
    assert await ws.receive_output(timeout=FRAME_TIMEOUT) == {
        "type": "websocket.close",
        "code": CLOSE_RESYNC,
    }
