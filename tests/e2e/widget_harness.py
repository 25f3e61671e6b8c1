"""A scripted shop page for the widget's browser tests (branding, languages, connection
state, keyboard): the page, the widget's files and the session API are Playwright routes,
and the WebSocket is a stand-in the test pushes frames through (as in
test_chat_widget.py). The real server's journeys are in test_widget_brand_layout.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.e2e.test_chat_widget import FAKE_SOCKET

STATIC = Path(__file__).resolve().parents[2] / "static" / "widget"
SHOP = "http://shop.test"
API = "http://cartassist.test"

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

SITE = {
    "display_name": "Maple & Thread",
    "brand_colour": "#2f5d50",
    "text_colour": "#ffffff",
    "logo_url": "",
    "languages": ["en", "de"],
    "currency": "EUR",
    "timezone": "Europe/Berlin",
}

# A shop page: a tall column of content, the order total and the checkout button marked
# as never to be covered (one by attribute, one through the keepVisible option).
SHOP_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A shop</title>
<style>body {{ margin: 0; font: 16px/1.5 sans-serif; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 16px; display: grid;
        grid-template-columns: minmax(0, 1fr) 320px; gap: 24px; }}
@media (max-width: 700px) {{ main {{ grid-template-columns: 1fr; }} }}
.summary {{ position: sticky; top: 16px; align-self: start; border: 1px solid #ccc;
            padding: 16px; }}
#checkout {{ display: block; width: 100%; padding: 12px; font-size: 18px; }}
</style>
<script>
window.CartAssist = window.CartAssist || {{ q: [] }};
["init", "track", "setCart", "flush"].forEach(function (m) {{
  CartAssist[m] = CartAssist[m] || function () {{
    CartAssist.q.push([m, [].slice.call(arguments), Date.now()]);
  }};
}});
CartAssist.init({options});
</script>
<script src="{api}/static/widget/cartassist.js" async></script>
</head><body>
<main><section><h1>Delivery</h1>{filler}</section>
<aside class="summary" aria-label="Order summary"><h2>Your order</h2>
<p data-cartassist-keep-visible id="order-total">Total <strong>€48.40</strong></p>
<button id="checkout" type="button">Continue to payment</button></aside></main>
</body></html>"""

# A 1×1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201e5273a7d0000000049454e44ae426082"
)
FILLER = "".join(f"<p>Paragraph {n} of the delivery form.</p>" for n in range(12))


class ScriptedShop:
    """Routes for one browser context: the shop page, the widget's files, the API."""

    def __init__(self, *, lang: str, options: dict[str, Any], site: dict[str, Any], language: str):
        self.lang = lang
        self.options = {
            "siteKey": "pk_test",
            "chat": "always",
            "verifyBase": "https://shop.test",
            "keepVisible": ["#checkout"],
            **options,
        }
        self.site = site
        self.language = language
        self.sessions: list[dict[str, Any]] = []

    def page_html(self) -> str:
        return SHOP_PAGE.format(
            lang=self.lang, options=json.dumps(self.options), api=API, filler=FILLER
        )

    def route(self, route: Any) -> None:
        url = route.request.url
        cors = {"Access-Control-Allow-Origin": SHOP}
        if url.startswith(SHOP):
            route.fulfill(status=200, content_type="text/html", body=self.page_html())
        elif url.startswith(API + "/static/widget/"):
            name = url.split("/static/widget/", 1)[1].split("?")[0]
            kind = "application/json" if name.endswith(".json") else "application/javascript"
            route.fulfill(
                status=200, content_type=kind, body=(STATIC / name).read_text(), headers=cors
            )
        elif url == API + "/api/v1/widget/session":
            self.sessions.append(json.loads(route.request.post_data))
            body = {
                "token": f"token-{len(self.sessions)}",
                "expires_at": "2099-01-01T00:00:00Z",
                "socket_url": "/ws/widget/",
                "language": self.language,
                "site": self.site,
            }
            route.fulfill(
                status=200, content_type="application/json", body=json.dumps(body), headers=cors
            )
        elif url.startswith(API + "/images/"):
            # a picture that loads (".../ok.png") or one that does not (anything else)
            if url.endswith("/ok.png"):
                route.fulfill(status=200, content_type="image/png", body=PNG)
            else:
                route.fulfill(status=404, body="")
        elif url == API + "/api/v1/widget/events":
            ids = [e["id"] for e in json.loads(route.request.post_data)["events"]]
            body = json.dumps({"stored": ids, "duplicates": []})
            route.fulfill(status=200, content_type="application/json", body=body, headers=cors)
        else:
            route.abort()


@contextmanager
def scripted_shop(
    browser: Any,
    size: str = "desktop",
    *,
    lang: str = "en",
    options: dict[str, Any] | None = None,
    site: dict[str, Any] | None = None,
    language: str = "en",
    timezone_id: str = "Europe/Berlin",
) -> Iterator[Any]:
    """A page of the scripted shop with the widget loaded and its socket open."""
    context = browser.new_context(**SIZES[size], timezone_id=timezone_id)
    context.set_default_timeout(10_000)
    shop = ScriptedShop(
        lang=lang, options=options or {}, site=SITE if site is None else site, language=language
    )
    context.route("**/*", shop.route)
    context.add_init_script(FAKE_SOCKET)
    page = context.new_page()
    page.shop = shop  # type: ignore[attr-defined]
    try:
        page.goto(SHOP + "/")
        page.wait_for_function(
            "() => window.__sockets.length === 1 && window.__sockets[0].readyState === 1"
        )
        yield page
    finally:
        context.close()


def push(page: Any, frame: dict[str, Any]) -> None:
    page.evaluate("f => window.__push(f)", frame)


def hello(**fields: Any) -> dict[str, Any]:
    return {"type": "hello", "visitor_id": "v-1", "invitations": [], "conversations": [],
            "offers": [], "grants": [], **fields}  # fmt: skip


AGENT = {"first_name": "Alex", "photo_url": ""}
INVITATION = {
    "id": 3, "stall_reason": "shipping_shock", "headline": "Questions about the delivery charge?",
    "body": "We can waive it today.", "agent_name": "Alex", "agent": AGENT,
    "verification_code": "K7QH3MZP", "verify_url": "/verify/K7QH3MZP",
    "sent_at": "2026-01-05T10:00:00Z", "expires_at": "2099-01-05T10:10:00Z",
}  # fmt: skip
CONVERSATION = {
    "id": 7, "status": "active", "agent_name": "Alex", "agent": AGENT, "agent_id": 1,
    "last_seq": 0, "visitor_read_seq": 0, "agent_read_seq": 0,
    "created_at": "2026-01-05T10:00:00Z", "close_reason": "",
}  # fmt: skip
INVITATION_MESSAGE = {
    "seq": 1, "sender": "agent", "author_name": "Alex", "agent": AGENT, "kind": "invitation",
    "text": "Questions about the delivery charge?\n\nWe can waive it today.",
    "meta": {"headline": "Questions about the delivery charge?", "body": "We can waive it today.",
             "verification_code": "K7QH3MZP", "verify_url": "/verify/K7QH3MZP"},
    "client_message_id": "inv-3", "created_at": "2026-01-05T10:00:00Z",
}  # fmt: skip
OFFER = {
    "id": 11, "conversation_id": 7, "kind": "waive_delivery", "label": "Waive the delivery charge",
    "description": "Delivery charge waived: −9.90 EUR", "amount": "9.90", "currency": "EUR",
    "total_before": "48.40 EUR", "total_after": "38.50 EUR", "status": "offered",
    "refusal_reason": "", "expires_at": "2099-01-05T10:15:00Z",
}  # fmt: skip


def agent_message(seq: int, text: str, minute: int) -> dict[str, Any]:
    return {"seq": seq, "sender": "agent", "author_name": "Alex", "agent": AGENT, "kind": "text",
            "meta": {}, "text": text, "client_message_id": f"a-{seq}",
            "created_at": f"2026-01-05T10:{minute:02d}:00Z"}  # fmt: skip


def open_chat(page: Any, messages: list[dict[str, Any]] | None = None) -> None:
    """The conversation from an accepted invitation, synced, with its messages."""
    push(page, hello(conversations=[CONVERSATION]))
    page.wait_for_function("() => window.__sent().some(f => f.type === 'sync')")
    for message in messages if messages is not None else [INVITATION_MESSAGE]:
        push(page, {"type": "message", "conversation_id": 7, "message": message})
    push(page, {"type": "synced", "conversation_id": 7, "last_seq": len(messages or [1])})


def shadow(page: Any, selector: str) -> Any:
    """A locator inside the widget (Playwright pierces open shadow roots)."""
    return page.locator("#cartassist-chat").locator(selector)


# --- "never hide the total or the checkout button" ------------------------------------

COVERAGE = """
([selector, fractions]) => {
  const node = document.querySelector(selector);
  if (!node) return {found: false};
  const host = document.getElementById("cartassist-chat");
  const parts = host && host.shadowRoot
    ? host.shadowRoot.querySelectorAll(".panel, .launcher") : [];
  let widgetTop = window.innerHeight;
  parts.forEach((p) => {
    const r = p.getBoundingClientRect();
    if (r.height && getComputedStyle(p).display !== "none") widgetTop = Math.min(widgetTop, r.top);
  });
  const hit = () => {
    const r = node.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (y < 0 || y > window.innerHeight) return false;
    const at = document.elementFromPoint(x, y);
    return !!at && (at === node || node.contains(at));
  };
  return {found: true, visible: hit(), widgetTop};
}
"""


def settle(page: Any) -> None:
    """Two animation frames: the widget places itself on the frame after a scroll."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def assert_reachable(page: Any, selector: str) -> None:
    """The element is visible and not covered, now or after scrolling it into the part of
    the window above the widget: document.elementFromPoint at its centre is the element
    (or inside it), never the widget."""
    settle(page)
    state = page.evaluate(COVERAGE, [selector, []])
    assert state["found"], f"{selector} is not on the page"
    if state["visible"]:
        return
    tried = []
    for fraction in (0.5, 0.35, 0.65, 0.2):
        page.evaluate(
            """([selector, fraction, widgetTop]) => {
                const r = document.querySelector(selector).getBoundingClientRect();
                window.scrollBy(0, r.top + r.height / 2 - widgetTop * fraction);
            }""",
            [selector, fraction, state["widgetTop"]],
        )
        settle(page)
        now = page.evaluate(COVERAGE, [selector, []])
        if now["visible"]:
            return
        tried.append((fraction, now["widgetTop"]))
    raise AssertionError(f"{selector} is covered and cannot be scrolled clear of it: {tried}")
