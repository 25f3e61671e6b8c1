"""The production stack end to end: the Procfile's processes, over real HTTP.

Events go to both servers (gunicorn/WSGI ``web`` and daphne/ASGI ``realtime``) and a
signed one from the "shop backend"; Celery beat schedules the sweep, the worker runs it,
and the Intervention lands in PostgreSQL. Bodies over the limit without a Content-Length
are refused by both servers.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from cartassist.client import signed_headers
from cartassist.domain.stalls import Reason, score_urgency
from cartassist.models import Cart, CartEvent, CartStatus, Intervention, Site
from tests.fixtures.agents import make_agent
from tests.fixtures.carts import make_event
from tests.fixtures.sites import SHOP_ORIGIN, make_site, make_stall_rules

from .conftest import STACK_MAX_BODY_BYTES, Stack, wait_until

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, json.loads(data) if data else None


def post_widget(port: int, site: Site, events: list[dict[str, Any]]) -> tuple[int, Any]:
    body = json.dumps({"site_key": site.public_key, "events": events}).encode()
    return post(
        port,
        "/api/v1/widget/events",
        body,
        {"Content-Type": "text/plain", "Origin": SHOP_ORIGIN},
    )


def post_signed(port: int, site: Site, events: list[dict[str, Any]]) -> tuple[int, Any]:
    body = json.dumps({"events": events}).encode()
    headers = signed_headers(site_key=site.public_key, secret=site.secret, message=body)
    return post(
        port, "/api/v1/server/events", body, {"Content-Type": "application/json", **headers}
    )


def widget_body_of_size(site: Site, event: dict[str, Any], size: int) -> bytes:
    """A valid widget batch carrying ``event``, padded to exactly ``size`` bytes: stored
    if the server accepted it, so "nothing stored" shows the refusal was real."""
    head = json.dumps({"site_key": site.public_key, "events": [event], "padding": ""})
    body = head[:-2] + "x" * (size - len(head)) + head[-2:]
    assert len(body) == size
    return body.encode()


def post_chunked(port: int, body: bytes) -> int:
    """POST ``body`` with ``Transfer-Encoding: chunked`` and no Content-Length, from a
    browser origin; return the status. Stops sending once the server answers early."""
    head = (
        "POST /api/v1/widget/events HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: text/plain\r\n"
        f"Origin: {SHOP_ORIGIN}\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for offset in range(0, len(body), 8192):
                piece = body[offset : offset + 8192]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                if select.select([sock], [], [], 0)[0]:
                    break  # answered before the end of the body
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-body; the answer is already on its way
        response = b""
        while b"\r\n" not in response:
            data = sock.recv(4096)
            if not data:
                break
            response += data
    status_line = response.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith("HTTP/1."), f"no HTTP answer: {response[:200]!r}"
    return int(status_line.split()[1])


def test_events_over_both_servers_become_an_intervention_swept_by_beat_in_the_worker(
    production_stack: Stack,
) -> None:
    # given: a cart only stalls once the delivery charge is quoted, a second later
    stack = production_stack
    site = make_site()
    make_stall_rules(
        site, cart=timedelta(hours=1), contact=timedelta(hours=1), shipping=timedelta(seconds=1)
    )
    make_agent(site)  # online with a free seat: the default availability check needs one
    cart_updated = make_event("cart_updated")  # 60.00 EUR
    contact = make_event("checkout_step", data={"step": "contact"})
    quoted = make_event("shipping_quoted")  # 14.90 EUR: a quarter of the subtotal
    # when
    via_asgi = post_widget(stack.realtime_port, site, [cart_updated])
    via_wsgi = post_widget(stack.web_port, site, [contact])
    signed = post_signed(stack.web_port, site, [quoted])
    intervention = wait_until(
        lambda: Intervention.objects.first(), what="the beat-driven sweep", stack=stack
    )
    # then
    assert via_asgi == (200, {"stored": [cart_updated["id"]], "duplicates": []})
    assert via_wsgi == (200, {"stored": [contact["id"]], "duplicates": []})
    assert signed == (200, {"stored": [quoted["id"]], "duplicates": []})
    assert list(CartEvent.objects.order_by("occurred_at").values_list("event_id", "source")) == [
        (cart_updated["id"], "widget"),
        (contact["id"], "widget"),
        (quoted["id"], "server"),
    ]
    assert (
        intervention.decision,
        intervention.suppression_reason,
        intervention.stall_reason,
        intervention.stage,
        intervention.cart_value,
        intervention.currency,
        intervention.urgency,
    ) == (
        "invited",
        "",
        "shipping_shock",
        "shipping",
        Decimal("60.000"),
        "EUR",
        score_urgency(reason=Reason.SHIPPING_SHOCK, stage="shipping", cart_value=Decimal(60)),
    )
    assert intervention.inactivity >= timedelta(seconds=1)
    assert Intervention.objects.count() == 1
    cart = Cart.objects.get()
    assert (cart.status, cart.stall_deadline, cart.shipping_fee) == (
        CartStatus.STALLED,
        None,
        Decimal("14.900"),
    )
    assert "cartassist.tasks.stall_sweep_task" in stack.process("worker").log()


def test_chunked_body_over_the_limit_is_refused_by_both_servers(production_stack: Stack) -> None:
    # given
    stack = production_stack
    site = make_site()
    make_stall_rules(site)
    too_big_for_asgi = make_event("cart_updated", cart_id="cart-asgi")
    too_big_for_wsgi = make_event("cart_updated", cart_id="cart-wsgi")
    small = make_event("cart_updated", cart_id="cart-small")
    # when
    asgi_status = post_chunked(
        stack.realtime_port,
        widget_body_of_size(site, too_big_for_asgi, STACK_MAX_BODY_BYTES + 1),
    )
    wsgi_status = post_chunked(
        stack.web_port, widget_body_of_size(site, too_big_for_wsgi, STACK_MAX_BODY_BYTES + 1)
    )
    # A chunked body within the limit is read and stored by the ASGI server: the refusal
    # above is about size, not about chunking.
    small_status = post_chunked(
        stack.realtime_port, widget_body_of_size(site, small, STACK_MAX_BODY_BYTES // 2)
    )
    # then
    assert asgi_status == 413
    assert wsgi_status in {411, 413}
    assert small_status == 200
    assert list(CartEvent.objects.values_list("event_id", flat=True)) == [small["id"]]
    assert list(Cart.objects.values_list("external_id", flat=True)) == ["cart-small"]
