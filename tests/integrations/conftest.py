"""Shared pieces of the platform contract tests: the documented payloads, a local HTTP server
standing in for the platform's API (it only records requests and answers what the test
queued: the assertions are against the published contract), connections and grants."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from cartassist.integrations.models import PlatformConnection
from cartassist.models import Site
from policies.models import Grant
from policies.services.offers import offer_accept, offer_authorize
from tests.fixtures.policies import make_chat, make_policy
from tests.fixtures.sites import make_site

FIXTURES = Path(__file__).parent / "fixtures"
SHOPIFY_SECRET = "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"
WOO_SECRET = "wc-webhook-secret-7d3f1a9c"


def payload(name: str) -> dict[str, Any]:
    """A documented sample payload (tests/integrations/fixtures/README.md)."""
    return json.loads((FIXTURES / name).read_text())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class PlatformAPI:
    """What the fake platform received, and what it answers next (FIFO; default 500)."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    answers: list[tuple[int, bytes]] = field(default_factory=list)

    def answer(self, status: int, body: bytes | dict[str, Any]) -> None:
        self.answers.append(
            (status, body if isinstance(body, bytes) else json.dumps(body).encode())
        )


@pytest.fixture
def platform_api() -> Iterator[PlatformAPI]:
    api = PlatformAPI(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            api.requests.append(
                Recorded(
                    method=self.command,
                    path=self.path,
                    headers=dict(self.headers.items()),
                    body=self.rfile.read(length),
                )
            )
            status, body = api.answers.pop(0) if api.answers else (500, b"{}")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def shop(db: Any) -> Site:
    return make_site(name="Platform shop", currency="USD", timezone="America/New_York")


def connect(site: Site, platform: str, store_url: str, **overrides: Any) -> PlatformConnection:
    values: dict[str, Any] = {
        "site": site,
        "platform": platform,
        "store_url": store_url,
        "webhook_secret": SHOPIFY_SECRET if platform == "shopify" else WOO_SECRET,
        "api_key": "" if platform == "shopify" else "ck_4f2a",
        "api_secret": "shpat_7c1e9d" if platform == "shopify" else "cs_9b3d",
    }
    values.update(overrides)
    return PlatformConnection.objects.create(**values)


def issue_grant(site: Site, *, kind: str = "waive_delivery", amount: str = "9.90") -> Grant:
    """A shopper accepts an offer in a chat: the grant is issued (grant_issue)."""
    make_policy(
        site,
        reduce_delivery=True,
        reduce_delivery_max_amount=Decimal("9.90"),
        discount=True,
        discount_max_amount=Decimal("20.00"),
    )
    chat = make_chat(site, visitor_id="visitor-1")
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind=kind,
        amount=amount,
        now=timezone.now(),
    )
    offer_accept(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=timezone.now())
    return Grant.objects.select_related("cart").get(offer=offer)
