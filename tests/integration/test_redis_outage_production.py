"""A Redis outage is never a 500 on the HTTP API (docs/adr/0012).

gunicorn runs against a PRIVATE redis-server that the test stops and starts again (the
shared Redis is never touched). While it is down, the rule of ADR 0012 holds: the widget
endpoints keep storing (rate limits count per process), the signed endpoints answer 503
with Retry-After and the documented JSON error (replay protection cannot be checked), and
everything answers as before once Redis is back.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from cartassist.client import signed_headers
from cartassist.models import CartEvent, Site
from policies.models import Grant
from policies.services.grants import grant_token
from policies.services.offers import offer_accept, offer_authorize
from tests.fixtures.carts import make_event
from tests.fixtures.policies import make_chat, make_policy
from tests.fixtures.sites import SHOP_ORIGIN, make_site, make_stall_rules

from .conftest import free_port, wait_until

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]


@dataclass
class PrivateRedis:
    port: int
    log_dir: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        log = (self.log_dir / "redis.log").open("ab")
        self.popen = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self.answers, what=f"the private redis-server on port {self.port}")

    def stop(self) -> None:
        if self.popen is not None:
            self.popen.kill()
            self.popen.wait(timeout=10)
            self.popen = None
        wait_until(lambda: not self.answers(), what="the private redis-server to stop")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), log_dir=tmp_path)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()


def signed(port: int, site: Site, path: str, data: dict[str, Any]) -> tuple[int, Any, str]:
    body = json.dumps(data).encode()
    headers = {
        "Content-Type": "application/json",
        **signed_headers(site_key=site.public_key, secret=site.secret, message=body),
    }
    return _post(port, path, body, headers)


def _post(
    port: int, path: str, body: bytes | None, headers: dict[str, str], method: str = "POST"
) -> tuple[int, Any, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        retry_after = response.getheader("Retry-After", "")
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(data) if is_json else data, retry_after
    finally:
        conn.close()


def granted_token(site: Site) -> str:
    make_policy(site)
    chat = make_chat(site, visitor_id="visitor-1")
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount="9.90",
        now=timezone.now(),
    )
    offer_accept(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=timezone.now())
    return grant_token(Grant.objects.get(offer=offer))


def endpoints(
    port: int, site: Site, token: str
) -> dict[str, Callable[[str], tuple[int, Any, str]]]:
    """One call per endpoint the outage drill named; ``n`` makes ids unique per round."""
    browser = {"Content-Type": "text/plain", "Origin": SHOP_ORIGIN}

    def widget_events(n: str) -> tuple[int, Any, str]:
        events = [
            make_event(cart_id=f"cart-{n}"),
            make_event(
                "order_completed",
                cart_id=f"cart-{n}",
                data={"order_id": f"ord-{n}", "currency": "EUR", "total": "60.00"},
            ),
        ]
        body = json.dumps({"site_key": site.public_key, "events": events}).encode()
        return _post(port, "/api/v1/widget/events", body, browser)

    def widget_session(n: str) -> tuple[int, Any, str]:
        body = json.dumps({"site_key": site.public_key, "visitor_id": f"v-{n}"}).encode()
        return _post(port, "/api/v1/widget/session", body, browser)

    return {
        "widget_session": widget_session,
        "widget_events": widget_events,
        "invitation_verify": lambda n: _post(port, f"/api/v1/verify/UNKNOWN{n}", None, {}, "GET"),
        "server_events": lambda n: signed(
            port, site, "/api/v1/server/events", {"events": [make_event(cart_id=f"srv-{n}")]}
        ),
        "grant_verify": lambda n: signed(
            port, site, "/api/v1/server/grants/verify", {"token": token}
        ),
        "grant_redeem": lambda n: signed(
            port, site, "/api/v1/server/grants/redeem", {"token": token, "order_id": "ord-1"}
        ),
        "follow_up": lambda n: signed(
            port,
            site,
            "/api/v1/server/follow-ups",
            {
                "id": f"contact-{n}",
                "customer_id": "C-1",
                "channel": "email",
                "reason": "other",
                "occurred_at": make_event()["occurred_at"],
            },
        ),
        "outreach_lookup": lambda n: signed(
            port, site, "/api/v1/server/outreach", {"customer_id": f"C-{n}"}
        ),
    }


def test_a_redis_outage_is_a_503_on_signed_endpoints_and_no_500_anywhere(
    start_process: Any,
    private_redis: PrivateRedis,
) -> None:
    # given: gunicorn on the private Redis, and a grant the shop will redeem
    site = make_site()
    make_stall_rules(site)
    token = granted_token(site)
    _, port = start_process("web", REDIS_URL=private_redis.url, SECRET_KEY=settings.SECRET_KEY)
    calls = endpoints(port, site, token)
    before = {name: call("before")[0] for name, call in calls.items()}

    # when: Redis goes away
    private_redis.stop()
    during = {name: call("during") for name, call in calls.items()}

    # and comes back
    private_redis.start()
    after = {name: call("after")[0] for name, call in calls.items()}

    # then: before, everything worked
    assert before == {
        "widget_session": 200,
        "widget_events": 200,
        "invitation_verify": 404,
        "server_events": 200,
        "grant_verify": 200,
        "grant_redeem": 200,
        "follow_up": 201,
        "outreach_lookup": 200,
    }
    # during: the widget keeps storing; signed calls are refused with 503 + Retry-After
    assert {name: answer[0] for name, answer in during.items()} == {
        "widget_session": 200,
        "widget_events": 200,
        "invitation_verify": 404,
        "server_events": 503,
        "grant_verify": 503,
        "grant_redeem": 503,
        "follow_up": 503,
        "outreach_lookup": 503,
    }
    for name in ("server_events", "grant_verify", "grant_redeem", "follow_up", "outreach_lookup"):
        status, body, retry_after = during[name]
        assert retry_after == "5", name
        assert body == {
            "detail": "Signed requests cannot be checked for replays right now; nothing was "
            "stored. Retry (signed anew) after the time in Retry-After."
        }, name
    # after: as before (the grant was redeemed for ord-1 before: a replayed answer)
    assert after == before
    assert sorted(
        CartEvent.objects.filter(cart__external_id__startswith="srv-").values_list(
            "cart__external_id", flat=True
        )
    ) == ["srv-after", "srv-before"]
    assert CartEvent.objects.filter(cart__external_id="cart-during").count() == 2
