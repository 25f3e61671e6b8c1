"""Live delivery on real processes: two daphne processes on PostgreSQL and a private,
real Redis (the bounded pub/sub layer), driven by real WebSocket clients.

- without any fault, under sustained concurrent load from both sides, every socket
  receives each message of its conversations exactly once and in seq order (ADR 0011);
- Redis stopped and restarted mid-chat: nothing accepted vanishes from the live view,
  and no socket sees a seq twice or out of order (docs/REALTIME.md, "Delivery");
- an ``invitation.accept`` while Redis is down completes for the shopper after the
  resync, never an internal error with half-done state.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from agents import realtime
from agents.layers import BoundedRedisPubSubChannelLayer
from agents.models import AgentProfile, Conversation, Message, Sender
from agents.services.conversations import conversation_message_post
from tests.fixtures.agents import (
    make_agent,
    make_conversation,
    make_invitation,
    make_stalled_cart,
    visitor_token,
)
from tests.fixtures.sites import make_site

from .realtime_processes import (
    FRAME_WAIT,
    Realtime,
    Recorder,
    open_console,
    open_widget,
    realtime_processes,
    session_cookie,
)

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]

db = database_sync_to_async


@pytest.fixture(scope="module")
def realtime_stack(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Realtime]:
    with realtime_processes(
        django_db_blocker, tmp_path_factory.mktemp("realtime-logs"), daphnes=2
    ) as started:
        yield started


@pytest.fixture
def processes(
    request: pytest.FixtureRequest, transactional_db: Any, realtime_stack: Realtime
) -> Iterator[Realtime]:
    """The running processes (Redis up); their logs are printed when the test fails."""
    if not realtime_stack.redis.answers():
        realtime_stack.redis.start()
    yield realtime_stack
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        sys.stdout.write(f"\nrealtime process logs:\n{realtime_stack.logs()}")


def _chat_set_up(conversations: int, agents: int) -> tuple[Any, list[AgentProfile], list[Any]]:
    site = make_site()
    team = [make_agent(site, name=f"Agent {n}", capacity=conversations) for n in range(agents)]
    chats = [
        make_conversation(site, visitor_id=f"v-{n}", agent=team[n % agents])
        for n in range(conversations)
    ]
    return site, team, chats


async def _synced(recorder: Recorder, conversation_ids: list[int]) -> None:
    for conversation_id in conversation_ids:
        await recorder.send({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
    await recorder.wait_for(
        lambda r: all(r.first("synced", conversation_id=c) for c in conversation_ids),
        "synced for every conversation",
    )


# --- 1. in order without a fault ----------------------------------------------------------

CONVERSATIONS = 6
AGENTS = 2
MESSAGES_PER_SIDE = 40


async def test_sustained_chat_on_two_daphnes_delivers_every_seq_once_and_in_order(
    processes: Realtime,
) -> None:
    # given: 6 conversations with 2 agents whose consoles are both on the first daphne
    # (as after a restart), the shoppers' widgets spread over both daphnes; every socket
    # synced from 0
    site, team, chats = await db(_chat_set_up)(CONVERSATIONS, AGENTS)
    first, second = processes.ports
    widgets = []
    for n, chat in enumerate(chats):
        token = await db(visitor_token)(site, f"v-{n}")
        ws = await open_widget(first if n % 2 else second, token)
        widgets.append((Recorder(f"widget {n}", ws), chat))
    consoles = []
    for agent in team:
        cookie = await db(session_cookie)(await db(lambda a=agent: a.user)())
        ws = await open_console(first, cookie)
        mine = [c for c in chats if c.agent_id == agent.pk]
        consoles.append((Recorder(f"console {agent.pk}", ws), mine))
    for recorder, chat in widgets:
        await recorder.wait_for(lambda r: r.first("hello"), "hello")
        await _synced(recorder, [chat.pk])
    for recorder, mine in consoles:
        await recorder.wait_for(lambda r: r.first("hello"), "hello")
        await _synced(recorder, [c.pk for c in mine])

    # when: both sides of every conversation write at the same time
    rng = random.Random(12)  # noqa: S311 - jitter, not security

    async def write(recorder: Recorder, conversation_id: int, prefix: str) -> None:
        for n in range(MESSAGES_PER_SIDE):
            await recorder.send(
                {
                    "type": "message.send",
                    "conversation_id": conversation_id,
                    "client_message_id": f"{prefix}-{conversation_id}-{n}",
                    "text": f"{prefix} {n}",
                }
            )
            await asyncio.sleep(rng.random() * 0.02)

    writers = [write(r, chat.pk, "w") for r, chat in widgets]
    writers += [write(r, c.pk, "a") for r, mine in consoles for c in mine]
    await asyncio.gather(*writers)
    total = 2 * MESSAGES_PER_SIDE
    for recorder, chat in widgets:
        await recorder.wait_for(
            lambda r, c=chat.pk: total in r.seqs.get(c, []), f"seq {total}", timeout=120
        )
    for recorder, mine in consoles:
        for chat in mine:
            await recorder.wait_for(
                lambda r, c=chat.pk: total in r.seqs.get(c, []), f"seq {total}", timeout=120
            )

    # then: every socket saw 1, 2, …, 80 for each of its conversations, nothing twice,
    # nothing out of order, and no socket was closed
    expected = list(range(1, total + 1))
    seen = {(recorder.name, chat.pk): recorder.seqs.get(chat.pk, []) for recorder, chat in widgets}
    seen.update(
        {
            (recorder.name, chat.pk): recorder.seqs.get(chat.pk, [])
            for recorder, mine in consoles
            for chat in mine
        }
    )
    wrong = {key: seqs for key, seqs in seen.items() if seqs != expected}
    assert wrong == {}
    assert [r.closed_code for r, _ in widgets + consoles] == [None] * (CONVERSATIONS + AGENTS)
    # ...and no consumer had to repair a gap from the database: the layer itself
    # delivered every conversation's messages in seq order
    assert "out of order" not in processes.logs()
    stored = await db(lambda: sorted(Conversation.objects.values_list("last_seq", flat=True)))()
    assert stored == [total] * CONVERSATIONS
    assert await db(Message.objects.count)() == CONVERSATIONS * total
    for recorder, _ in widgets + consoles:
        await recorder.close()


# --- 2. publishing keeps seq order across processes ---------------------------------------


def _post(conversation_id: int, client_message_id: str, **kwargs: Any) -> None:
    conversation_message_post(
        conversation_id=conversation_id,
        client_message_id=client_message_id,
        text=client_message_id,
        now=timezone.now(),
        **kwargs,
    )
    connection.close()  # a thread of its own: give its connection back


def _waiting_for_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        (waiting,) = cursor.fetchone()
    connection.close()
    return bool(waiting)


async def test_a_message_committed_later_is_never_published_before_an_earlier_one(
    processes: Realtime, settings: Any
) -> None:
    # given: a subscriber of the conversation's group on the real Redis layer, and the
    # publisher of seq 1 slowed down after its commit (as a busy process is), until seq 2
    # has been published or is waiting for its turn
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "agents.layers.BoundedRedisPubSubChannelLayer",
            "CONFIG": {"hosts": [processes.redis.url], "prefix": "order-test"},
        }
    }
    site, (agent,), (chat,) = await db(_chat_set_up)(1, 1)
    subscriber = BoundedRedisPubSubChannelLayer(hosts=[processes.redis.url], prefix="order-test")
    channel = await subscriber.new_channel()
    await subscriber.group_add(realtime.conversation_group(chat.pk), channel)
    layer = get_channel_layer()
    original = layer.group_send
    second_published = threading.Event()

    async def slow_first(group: str, message: dict[str, Any]) -> None:
        seq = message.get("message", {}).get("seq")
        if seq == 1:
            deadline = time.monotonic() + FRAME_WAIT
            while not (
                second_published.is_set() or await asyncio.to_thread(_waiting_for_a_row_lock)
            ):
                assert time.monotonic() < deadline, "seq 2 neither published nor waiting"
                await asyncio.sleep(0.05)
        await original(group, message)
        if seq == 2:
            second_published.set()

    layer.group_send = slow_first
    try:
        # when: the shopper's message commits first, the agent's right after it
        first = asyncio.ensure_future(
            asyncio.to_thread(_post, chat.pk, "v-1", sender=Sender.VISITOR)
        )
        await db(_wait_for_last_seq)(chat.pk, 1)
        await asyncio.to_thread(_post, chat.pk, "a-1", sender=Sender.AGENT, agent=agent)
        await first
        received = [await asyncio.wait_for(subscriber.receive(channel), FRAME_WAIT)]
        received.append(await asyncio.wait_for(subscriber.receive(channel), FRAME_WAIT))
    finally:
        del layer.group_send
        await subscriber.flush()

    # then: the subscriber got seq 1 before seq 2
    assert [(m["type"], m["message"]["seq"]) for m in received] == [
        ("message.created", 1),
        ("message.created", 2),
    ]


def _wait_for_last_seq(conversation_id: int, seq: int) -> None:
    from .conftest import wait_until

    wait_until(
        lambda: Conversation.objects.filter(pk=conversation_id, last_seq__gte=seq).exists(),
        what=f"seq {seq} committed",
    )


# --- 3. Redis stopped and restarted mid-chat ----------------------------------------------


def _send(text: str, conversation_id: int) -> dict[str, Any]:
    return {
        "type": "message.send",
        "conversation_id": conversation_id,
        "client_message_id": text,
        "text": text,
    }


async def test_redis_restarted_mid_chat_loses_nothing_and_no_socket_sees_a_seq_twice(
    processes: Realtime,
) -> None:
    # given: a chat, the shopper on one realtime process and the agent on the other, both
    # synced, and a first message seen by both
    site, (agent,), (chat,) = await db(_chat_set_up)(1, 1)
    first, second = processes.ports
    widget = Recorder("widget", await open_widget(first, await db(visitor_token)(site, "v-0")))
    cookie = await db(session_cookie)(await db(lambda: agent.user)())
    console = Recorder("console", await open_console(second, cookie))
    for recorder in (widget, console):
        await recorder.wait_for(lambda r: r.first("hello"), "hello")
        await _synced(recorder, [chat.pk])
    await widget.send(_send("v-1", chat.pk))
    for recorder in (widget, console):
        await recorder.wait_for(lambda r: 1 in r.seqs.get(chat.pk, []), "seq 1")

    # when: Redis goes down; both sides write (stored while Redis is down); Redis comes
    # back, empty
    processes.redis.stop()
    await widget.send(_send("v-2", chat.pk))
    await widget.wait_for(lambda r: 2 in r.seqs.get(chat.pk, []), "the echo of seq 2")
    await console.send(_send("a-3", chat.pk))
    await db(_wait_for_last_seq)(chat.pk, 3)
    processes.redis.start()

    # then: both sockets are told to resync (4008), reconnect, and sync from what they saw
    for recorder in (widget, console):
        await recorder.wait_for(lambda r: r.closed_code is not None, "the socket closed")
    widget_again = Recorder(
        "widget again", await open_widget(first, await db(visitor_token)(site, "v-0"))
    )
    console_again = Recorder("console again", await open_console(second, cookie))
    for recorder, saw in ((widget_again, widget), (console_again, console)):
        await recorder.wait_for(lambda r: r.first("hello"), "hello")
        await recorder.send(
            {"type": "sync", "conversation_id": chat.pk, "after_seq": max(saw.seqs[chat.pk])}
        )
        await recorder.wait_for(lambda r: r.first("synced"), "synced")
    # ...and live delivery works again on the new sockets
    await console_again.send(_send("a-4", chat.pk))
    for recorder in (widget_again, console_again):
        await recorder.wait_for(lambda r: 4 in r.seqs.get(chat.pk, []), "seq 4")

    assert (widget.closed_code, console.closed_code) == (4008, 4008)
    assert (widget.seqs[chat.pk], widget_again.seqs[chat.pk]) == ([1, 2], [3, 4])
    assert (console.seqs[chat.pk], console_again.seqs[chat.pk]) == ([1], [2, 3, 4])
    assert [e for r in (widget, console) for e in r.frames if e["type"] == "error"] == []
    for recorder in (widget_again, console_again):
        await recorder.close()


async def test_invitation_accepted_while_redis_is_down_opens_the_chat_after_the_resync(
    processes: Realtime,
) -> None:
    # given: an invitation on the shopper's socket, an agent online
    site = await db(make_site)()
    await db(make_agent)(site, name="Ada")
    cart = await db(make_stalled_cart)(site, visitor_id="v-9")
    invitation = await db(make_invitation)(cart)
    port = processes.ports[0]
    token = await db(visitor_token)(site, "v-9")
    widget = Recorder("widget", await open_widget(port, token))
    hello = await widget.wait_for(lambda r: r.first("hello"), "hello")
    assert [i["id"] for i in hello["invitations"]] == [invitation.pk]

    # when: Redis is down while the shopper accepts (answered once the accept is stored:
    # the chat's frame, or the socket closed when joining the chat's group failed)
    resyncs_before = layer_resyncs(processes, port_index=0)
    processes.redis.stop()
    await widget.send({"type": "invitation.accept", "invitation_id": invitation.pk})
    await widget.wait_for(
        lambda r: r.closed_code is not None or r.first("conversation"), "the accept answered"
    )
    processes.redis.start()
    # The socket closes to resync: at once when joining the group failed, else once the
    # layer is back on Redis (a subscription sent before the lost connection was noticed
    # raises nothing; agents/layers.py tells every socket to resync then).
    await widget.wait_for(lambda r: r.closed_code is not None, "the socket closed")
    # The process's layer back on Redis (it has told its sockets to resync): a socket
    # opened before that would be told too, and so would the next test's.
    await until(
        lambda: layer_resyncs(processes, port_index=0) > resyncs_before,
        "the realtime process's layer back on Redis",
    )
    again = Recorder("widget again", await open_widget(port, token))
    resumed = await again.wait_for(lambda r: r.first("hello"), "hello")

    # then: no internal error; the socket closed to resync; the chat is in the next hello
    conversation = await db(Conversation.objects.get)(invitation=invitation)
    assert widget.closed_code == 4008
    assert [f for f in widget.frames if f["type"] == "error"] == []
    assert [(c["id"], c["status"], c["agent_name"]) for c in resumed["conversations"]] == [
        (conversation.pk, "active", "Ada")
    ]
    await again.close()


def layer_resyncs(processes: Realtime, *, port_index: int) -> int:
    """How many times the realtime process on ``processes.ports[port_index]`` has found
    its channel layer back on Redis and told its sockets to resync (agents/layers.py)."""
    log = processes.stack.process(f"realtime-{port_index + 1}").log()
    return log.count("Redis is back; sockets resync")


async def until(condition: Any, what: str) -> None:
    """Return once ``condition()`` holds; fail after FRAME_WAIT seconds."""
    deadline = time.monotonic() + FRAME_WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# --- 4. oversized frames --------------------------------------------------------------------


async def test_a_one_megabyte_frame_is_closed_with_1009_and_a_20_kib_one_is_refused(
    processes: Realtime,
) -> None:
    # given: a widget socket on the realtime process as the Procfile starts it
    site = await db(make_site)()
    token = await db(visitor_token)(site, "v-big")
    widget = Recorder("widget", await open_widget(processes.ports[0], token))
    await widget.wait_for(lambda r: r.first("hello"), "hello")

    # when: a frame over the application's 16 KiB limit, then one of 1 MiB
    await widget.send({"type": "ping", "padding": "x" * 20_000})
    refused = await widget.wait_for(lambda r: r.first("error"), "the error frame")
    await widget.ws.send("x" * (1024 * 1024))
    await widget.wait_for(lambda r: r.closed_code is not None, "the socket closed")

    # then: the first is answered (socket open), the second closed with 1009, a close
    # frame the client received
    assert (refused["code"], refused["message"]) == (
        "invalid_frame",
        "Frames are limited to 16384 bytes.",
    )
    close_frame = widget.ws.protocol.close_rcvd
    assert close_frame is not None
    assert (widget.closed_code, close_frame.code) == (1009, 1009)


# --- 5. the console's Origin rule on the real server ------------------------------------


@pytest.mark.parametrize("origin", [None, "https://evil.example"])
async def test_console_without_its_own_origin_is_refused_with_http_403_at_the_handshake(
    processes: Realtime, origin: str | None
) -> None:
    # given: a logged-in agent's session cookie
    site = await db(make_site)()
    agent = await db(make_agent)(site, online=False)
    cookie = await db(session_cookie)(await db(lambda: agent.user)())

    # when
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"ws://127.0.0.1:{processes.ports[0]}/ws/console/",
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            proxy=None,
            open_timeout=FRAME_WAIT,
        )

    # then: HTTP 403, no WebSocket (docs/REALTIME.md, "Console socket"); nothing ran
    assert refused.value.response.status_code == 403
    assert await db(lambda: AgentProfile.objects.get(pk=agent.pk).status)() == "offline"
