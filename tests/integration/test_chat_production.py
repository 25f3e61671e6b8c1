"""The live chat in production mode: the Procfile's processes (daphne, gunicorn, Celery
worker and beat) on PostgreSQL and the bounded Redis pub/sub layer, driven through real
WebSocket clients (``websockets``) over 127.0.0.1.

- the sweep that beat schedules and the worker runs pushes its invitation to a widget
  socket that daphne serves;
- a message sent while the agent's console was away arrives on reconnect (``sync``), and
  a message sent through one daphne process reaches a socket on a second one;
- an idle socket (no frames for 32 s) still receives (redis/redis-py#4091-style drops);
- agents/layers.py against real Redis: a consumer that never reads holds at most
  ``capacity`` messages, and overflow leaves one ``layer.overflow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.utils import timezone
from websockets.sync.client import ClientConnection, connect

from agents.layers import OVERFLOW_MESSAGE, BoundedRedisPubSubChannelLayer
from agents.models import AgentProfile, AgentStatus, Invitation
from cartassist.models import Decision, Intervention, Site
from tests.fixtures.agents import make_agent, make_conversation, make_stalled_cart
from tests.fixtures.sites import SHOP_ORIGIN, make_site, make_stall_rules

from .conftest import (
    REPO_ROOT,
    STARTUP_DEADLINE_SECONDS,
    Stack,
    free_port,
    http_get_status,
    wait_until,
)

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]

# The console socket accepts only ALLOWED_HOSTS (127.0.0.1, localhost) as Origin.
CONSOLE_ORIGIN = "http://localhost"
AGENT_PASSWORD = "agent-pass"  # tests/fixtures/agents.py make_agent
# Bounds on waiting for a frame: they stop a broken run, they do not time anything.
FRAME_WAIT = 15
SWEEP_WAIT = 60
# Longer than the ~5 s idle drops of redis/redis-py#4091 and than daphne's 20 s ping.
IDLE_SECONDS = 32


@pytest.fixture(scope="module")
def stack_extra_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Real console presence decides "no agent able to take the chat", and the static
    files are collected: the console login page needs the manifest (DEBUG off)."""
    static_root = tmp_path_factory.mktemp("chat-static")
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO_ROOT,
        env={**os.environ, "STATIC_ROOT": str(static_root)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert collected.returncode == 0, collected.stderr
    return {
        "CARTASSIST_AGENT_AVAILABILITY": "agents.services.presence.agent_with_free_capacity",
        "STATIC_ROOT": str(static_root),
    }


@pytest.fixture(scope="module")
def second_realtime_port(_stack_processes: Stack) -> int:
    """A second daphne process of the same stack (stopped with it)."""
    stack = _stack_processes
    port = free_port()
    command = next(p.command for p in stack.processes if p.name == "realtime")
    stack.start("realtime-2", command, PORT=str(port))
    wait_until(
        lambda: http_get_status(port, "/healthz") == 200,
        what=f"/healthz on the second daphne (port {port})",
        stack=stack,
        timeout=STARTUP_DEADLINE_SECONDS,
    )
    return port


# --- clients ---------------------------------------------------------------------------


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, list[str]], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        header_lists: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            header_lists.setdefault(name.lower(), []).append(value)
        return response.status, header_lists, data
    finally:
        conn.close()


def visitor_token(port: int, site: Site, visitor_id: str) -> str:
    """A visitor token from POST /api/v1/widget/session, as the widget gets it."""
    body = json.dumps({"site_key": site.public_key, "visitor_id": visitor_id}).encode()
    status, _, data = http_request(
        port,
        "POST",
        "/api/v1/widget/session",
        body,
        {"Content-Type": "text/plain", "Origin": SHOP_ORIGIN},
    )
    assert status == 200, data
    return json.loads(data)["token"]


def _cookies(headers: dict[str, list[str]]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for value in headers.get("set-cookie", []):
        jar.load(value)
    return {name: morsel.value for name, morsel in jar.items()}


def console_session_cookie(port: int, agent: AgentProfile) -> str:
    """Log the agent in at /console/login/ over HTTP; the ``Cookie`` header value."""
    status, headers, page = http_request(port, "GET", "/console/login/")
    assert status == 200, page[:500]
    csrf_cookie = _cookies(headers)["csrftoken"]
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, page[:500]
    form = urlencode(
        {
            "username": agent.user.username,
            "password": AGENT_PASSWORD,
            "csrfmiddlewaretoken": match.group(1).decode(),
        }
    ).encode()
    status, headers, page = http_request(
        port,
        "POST",
        "/console/login/",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
        },
    )
    assert status == 302, page[:500]
    session = _cookies(headers)["sessionid"]
    return f"sessionid={session}"


def widget_socket(port: int, token: str) -> ClientConnection:
    # No client pings: the socket sends nothing at all unless the test does.
    return connect(
        f"ws://127.0.0.1:{port}/ws/widget/?token={quote(token)}",
        origin=SHOP_ORIGIN,
        proxy=None,
        ping_interval=None,
        open_timeout=FRAME_WAIT,
    )


def console_socket(port: int, cookie: str) -> ClientConnection:
    return connect(
        f"ws://127.0.0.1:{port}/ws/console/",
        origin=CONSOLE_ORIGIN,
        additional_headers={"Cookie": cookie},
        proxy=None,
        ping_interval=None,
        open_timeout=FRAME_WAIT,
    )


def next_frame(
    ws: ClientConnection, *, skip: frozenset[str] = frozenset({"queue"}), wait: float = FRAME_WAIT
) -> dict[str, Any]:
    """The next frame whose type is not in ``skip`` (the console gets the whole queue
    after every change; most tests look past it)."""
    deadline = time.monotonic() + wait
    while True:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame["type"] not in skip:
            return frame


def frames_until(ws: ClientConnection, last_type: str) -> list[dict[str, Any]]:
    """Frames (queue updates skipped) up to and including the first of ``last_type``."""
    frames = []
    while True:
        frame = next_frame(ws)
        frames.append(frame)
        if frame["type"] == last_type:
            return frames


@pytest.fixture
def sockets() -> Iterator[contextlib.ExitStack]:
    """``sockets.enter_context(widget_socket(...))``: closed at the end, whatever happened."""
    with contextlib.ExitStack() as opened:
        yield opened


def online_agent(site: Site, name: str = "Ada") -> AgentProfile:
    """An agent who is online with a fresh heartbeat (as a console sets it)."""
    return make_agent(site, name=name, online=True)


def heartbeat(agent: AgentProfile) -> None:
    AgentProfile.objects.filter(pk=agent.pk).update(
        status=AgentStatus.ONLINE, last_heartbeat_at=timezone.now()
    )


# --- 1. the worker's invitation reaches daphne's socket ------------------------------------


def test_invitation_from_the_sweep_in_the_worker_reaches_the_widget_socket_on_daphne(
    production_stack: Stack, sockets: contextlib.ExitStack
) -> None:
    # given: a shopper's widget connected to daphne, and an agent online
    stack = production_stack
    site = make_site()
    make_stall_rules(site)
    agent = online_agent(site)
    widget = sockets.enter_context(
        widget_socket(stack.realtime_port, visitor_token(stack.realtime_port, site, "v-1"))
    )
    hello = next_frame(widget)
    assert (hello["type"], hello["invitations"], hello["conversations"]) == ("hello", [], [])
    # when: the shopper's cart stalls; beat schedules the sweep, the worker runs it
    cart = make_stalled_cart(site, visitor_id="v-1")
    frame = next_frame(widget, wait=SWEEP_WAIT)
    # then
    invitation = Invitation.objects.get()
    intervention = Intervention.objects.get()
    assert (intervention.cart_id, intervention.decision) == (cart.pk, Decision.INVITED)
    assert frame["type"] == "invitation"
    assert frame["invitation"]["id"] == invitation.pk
    assert frame["invitation"]["verification_code"] == invitation.verification_code
    assert frame["invitation"]["agent_name"] == agent.display_name == "Ada"
    assert frame["invitation"]["stall_reason"] == "shipping_shock"
    assert "cartassist.tasks.stall_sweep_task" in stack.process("worker").log()
    # The daphne consumer marks it delivered once it has pushed it.
    wait_until(
        lambda: Invitation.objects.filter(pk=invitation.pk, delivered_at__isnull=False).exists(),
        what="the invitation marked delivered",
        stack=stack,
    )


# --- 2. no lost messages: reconnect and a second ASGI process -----------------------------


def test_message_sent_while_the_console_was_away_is_delivered_on_reconnect(
    production_stack: Stack, sockets: contextlib.ExitStack
) -> None:
    # given: an active conversation, the shopper's widget and the agent's console on daphne
    stack = production_stack
    port = stack.realtime_port
    site = make_site()
    agent = online_agent(site)
    conversation = make_conversation(site, visitor_id="v-2", agent=agent)
    cookie = console_session_cookie(stack.web_port, agent)
    widget = sockets.enter_context(widget_socket(port, visitor_token(port, site, "v-2")))
    assert [c["id"] for c in next_frame(widget)["conversations"]] == [conversation.pk]
    console = sockets.enter_context(console_socket(port, cookie))
    assert [c["id"] for c in next_frame(console)["conversations"]] == [conversation.pk]
    widget.send(
        json.dumps(
            {
                "type": "message.send",
                "conversation_id": conversation.pk,
                "client_message_id": "m-1",
                "text": "Is delivery free over 50?",
            }
        )
    )
    seen = next_frame(console)
    assert (seen["type"], seen["message"]["seq"], seen["message"]["text"]) == (
        "message",
        1,
        "Is delivery free over 50?",
    )
    # when: the console goes away, the shopper writes twice, the console comes back
    console.close()
    for number, text in [(2, "Hello?"), (3, "Anyone there?")]:
        widget.send(
            json.dumps(
                {
                    "type": "message.send",
                    "conversation_id": conversation.pk,
                    "client_message_id": f"m-{number}",
                    "text": text,
                }
            )
        )
    # The widget's own echo of the last message: both are stored by now.
    echoes = [next_frame(widget), next_frame(widget), next_frame(widget)]
    assert [(f["type"], f["message"]["seq"]) for f in echoes if f["type"] == "message"] == [
        ("message", 1),
        ("message", 2),
        ("message", 3),
    ]
    console = sockets.enter_context(console_socket(port, cookie))
    assert next_frame(console)["type"] == "hello"
    console.send(json.dumps({"type": "sync", "conversation_id": conversation.pk, "after_seq": 1}))
    frames = frames_until(console, "synced")
    # then: exactly what it missed, in order
    assert [f["type"] for f in frames] == ["conversation", "message", "message", "synced"]
    assert [(f["message"]["seq"], f["message"]["text"]) for f in frames[1:3]] == [
        (2, "Hello?"),
        (3, "Anyone there?"),
    ]
    assert frames[3] == {"type": "synced", "conversation_id": conversation.pk, "last_seq": 3}


def test_message_through_one_daphne_reaches_a_socket_on_a_second_daphne(
    production_stack: Stack, second_realtime_port: int, sockets: contextlib.ExitStack
) -> None:
    # given: the widget on the first daphne, the console on the second
    stack = production_stack
    site = make_site()
    agent = online_agent(site)
    conversation = make_conversation(site, visitor_id="v-3", agent=agent)
    widget = sockets.enter_context(
        widget_socket(stack.realtime_port, visitor_token(stack.realtime_port, site, "v-3"))
    )
    next_frame(widget)
    console = sockets.enter_context(
        console_socket(second_realtime_port, console_session_cookie(stack.web_port, agent))
    )
    next_frame(console)
    # when: each side writes
    widget.send(
        json.dumps(
            {
                "type": "message.send",
                "conversation_id": conversation.pk,
                "client_message_id": "w-1",
                "text": "From the first process",
            }
        )
    )
    to_agent = next_frame(console)
    console.send(
        json.dumps(
            {
                "type": "message.send",
                "conversation_id": conversation.pk,
                "client_message_id": "a-1",
                "text": "From the second process",
            }
        )
    )
    to_shopper = [next_frame(widget), next_frame(widget)]
    # then
    assert (to_agent["type"], to_agent["message"]["seq"], to_agent["message"]["sender"]) == (
        "message",
        1,
        "visitor",
    )
    assert [(f["type"], f["message"]["seq"], f["message"]["text"]) for f in to_shopper] == [
        ("message", 1, "From the first process"),
        ("message", 2, "From the second process"),
    ]


# --- 3. idle sockets survive ---------------------------------------------------------------


def test_idle_widget_socket_still_receives_after_32_seconds(
    production_stack: Stack, sockets: contextlib.ExitStack
) -> None:
    # given: a widget socket on daphne that then sends nothing for 32 s
    stack = production_stack
    site = make_site()
    make_stall_rules(site)
    agent = online_agent(site)
    widget = sockets.enter_context(
        widget_socket(stack.realtime_port, visitor_token(stack.realtime_port, site, "v-4"))
    )
    assert next_frame(widget)["invitations"] == []
    time.sleep(IDLE_SECONDS)
    # when: the worker's sweep invites this shopper (a publish from another process)
    heartbeat(agent)  # the agent stayed online meanwhile
    make_stalled_cart(site, visitor_id="v-4")
    frame = next_frame(widget, wait=SWEEP_WAIT)
    # then: it arrives on that same socket
    invitation = Invitation.objects.get()
    assert (frame["type"], frame["invitation"]["verification_code"]) == (
        "invitation",
        invitation.verification_code,
    )


# --- 4. bounded buffers of agents/layers.py ------------------------------------------------


async def _fill(
    layer: BoundedRedisPubSubChannelLayer, group: str, count: int, marker: str
) -> list[dict[str, Any]]:
    """Publish ``count`` numbered messages to ``group`` without reading them, then wait
    until the layer has handled them all: a later message on another channel of the same
    subscriber connection arrives after them (Redis delivers in publish order)."""
    for number in range(count):
        await layer.group_send(group, {"type": "chat.message", "number": number})
    await layer.send(marker, {"type": "marker"})
    return [await asyncio.wait_for(layer.receive(marker), FRAME_WAIT)]


async def test_bounded_layer_holds_capacity_messages_then_one_overflow(redis_url: str) -> None:
    # given: a consumer channel in a group, which never reads, and a capacity of 3
    layer = BoundedRedisPubSubChannelLayer(
        hosts=[redis_url], prefix="bench-layer-" + secrets.token_hex(4), capacity=3
    )
    try:
        slow = await layer.new_channel()
        marker = await layer.new_channel()
        group = "conversation.bounded"
        await layer.group_add(group, slow)
        queue = layer._get_layer().channels[slow]
        # when: exactly capacity messages
        assert await _fill(layer, group, 3, marker) == [{"type": "marker"}]
        # then: all held, in order
        assert queue.qsize() == 3
        held = [await layer.receive(slow) for _ in range(3)]
        assert held == [{"type": "chat.message", "number": n} for n in range(3)]
        # when: one more than capacity
        assert await _fill(layer, group, 4, marker) == [{"type": "marker"}]
        # then: the queue was replaced by a single overflow message
        assert queue.qsize() == 1
        assert await layer.receive(slow) == OVERFLOW_MESSAGE
        assert queue.qsize() == 0
    finally:
        await layer.flush()
