"""The chat part of the widget (static/widget/chat.js) in headless Chromium, against a
scripted server: the page, the scripts and the API are served by Playwright routes and
the WebSocket is a stand-in that records what the widget sends and lets the test push
frames (docs/REALTIME.md). The real server is in test_chat_journey.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser]

STATIC = Path(__file__).resolve().parents[2] / "static" / "widget"
SHOP = "http://shop.test"
API = "http://cartassist.test"

SHOP_PAGE = f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>* {{ color: red !important; font-size: 40px !important; }}
       button {{ display: none !important; }}</style>
<script src="{API}/static/widget/cartassist.js" data-site-key="pk_test" data-chat="always"
        data-verify-base="https://shop.test"></script>
</head><body><h1>A shop</h1><input id="search"></body></html>"""

FAKE_SOCKET = """
window.__sockets = [];
window.__events = [];
["invitation-shown", "invitation-accepted", "invitation-dismissed", "chat-closed",
 "offer-shown", "offer-accepted", "offer-declined", "grant"].forEach(function (name) {
  window.addEventListener("cartassist:" + name, function (e) {
    window.__events.push([name, e.detail]);
  });
});
function FakeSocket(url) {
  this.url = url; this.readyState = 0; this.sent = [];
  window.__sockets.push(this);
  var self = this;
  setTimeout(function () { self.readyState = 1; if (self.onopen) self.onopen({}); }, 0);
}
FakeSocket.prototype.send = function (data) { this.sent.push(JSON.parse(data)); };
FakeSocket.prototype.close = function (code) { this.drop(code || 1000); };
FakeSocket.prototype.drop = function (code) {
  this.readyState = 3; if (this.onclose) this.onclose({ code: code });
};
FakeSocket.prototype.push = function (frame) {
  if (this.onmessage) this.onmessage({ data: JSON.stringify(frame) });
};
window.WebSocket = FakeSocket;
window.__push = function (frame) { window.__sockets[window.__sockets.length - 1].push(frame); };
window.__sent = function () {
  return [].concat.apply([], window.__sockets.map(function (s) { return s.sent; }))
    .filter(function (f) { return f.type !== "ping"; });
};
"""

CONVERSATION = {
    "id": 7, "status": "active", "agent_name": "Alex", "agent_id": 1, "last_seq": 0,
    "visitor_read_seq": 0, "agent_read_seq": 0, "urgency": 50, "cart_value": "38.50",
    "created_at": "2026-01-05T10:00:00Z", "close_reason": "", "disposition": "",
}  # fmt: skip
INVITATION = {
    "id": 3, "stall_reason": "shipping_shock", "headline": "Questions about the delivery charge?",
    "body": "<i>We</i> can help.", "agent_name": "Alex", "verification_code": "K7QH3MZP",
    "verify_url": "/verify/K7QH3MZP", "sent_at": "2026-01-05T10:00:00Z",
    "expires_at": "2099-01-05T10:10:00Z",
}  # fmt: skip
OFFER = {
    "id": 11, "conversation_id": 7, "kind": "waive_delivery", "label": "Waive the delivery charge",
    "description": "Delivery charge waived: −€9.90", "amount": "9.90", "currency": "EUR",
    "total_before": "€48.40", "total_after": "€38.50", "status": "offered",
    "refusal_reason": "", "expires_at": "2099-01-05T10:15:00Z",
}  # fmt: skip
GRANT = {
    "token": "g.signed.token", "kind": "waive_delivery", "amount": "9.90", "currency": "EUR",
    "cart_id": "cart-1", "offer_id": 11, "expires_at": "2099-01-05T12:00:00Z",
}  # fmt: skip


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def hello(**fields: Any) -> dict[str, Any]:
    return {"type": "hello", "visitor_id": "v-1", "invitations": [], "conversations": [],
            "offers": [], "grants": [], **fields}  # fmt: skip


class ScriptedApi:
    def __init__(self) -> None:
        self.sessions: list[dict[str, Any]] = []

    def route(self, route: Any) -> None:
        url = route.request.url
        cors = {"Access-Control-Allow-Origin": SHOP}
        if url.startswith(SHOP):
            route.fulfill(status=200, content_type="text/html", body=SHOP_PAGE)
        elif url.startswith(API + "/static/widget/"):
            name = url.split("/static/widget/", 1)[1].split("?")[0]
            route.fulfill(
                status=200,
                content_type="application/json"
                if name.endswith(".json")
                else "application/javascript",
                body=(STATIC / name).read_text(),
                headers=cors,
            )
        elif url == API + "/api/v1/widget/session":
            self.sessions.append(json.loads(route.request.post_data))
            token = f"token-{len(self.sessions)}"
            body = {
                "token": token,
                "expires_at": "2099-01-01T00:00:00Z",
                "socket_url": "/ws/widget/",
            }
            route.fulfill(
                status=200, content_type="application/json", body=json.dumps(body), headers=cors
            )
        elif url == API + "/api/v1/widget/events":
            ids = [e["id"] for e in json.loads(route.request.post_data)["events"]]
            body = json.dumps({"stored": ids, "duplicates": []})
            route.fulfill(status=200, content_type="application/json", body=body, headers=cors)
        else:
            route.abort()


@pytest.fixture
def shop(browser: Any) -> Iterator[tuple[Any, ScriptedApi]]:
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    context.set_default_timeout(10_000)
    api = ScriptedApi()
    context.route("**/*", api.route)
    context.add_init_script(FAKE_SOCKET)
    page = context.new_page()
    page.goto(SHOP + "/")
    page.wait_for_function(
        "() => window.__sockets.length === 1 && window.__sockets[0].readyState === 1"
    )
    yield page, api
    context.close()


def sent(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.__sent()")


def events(page: Any) -> list[list[Any]]:
    return page.evaluate("window.__events")


def test_the_socket_is_opened_with_a_token_for_this_visitor(shop):
    page, api = shop
    # then: one token for the stored visitor, used on the socket URL
    visitor = page.evaluate("JSON.parse(localStorage.getItem('cartassist:v1:visitor'))")
    assert api.sessions == [{"site_key": "pk_test", "visitor_id": visitor}]
    assert (
        page.evaluate("window.__sockets[0].url") == "ws://cartassist.test/ws/widget/?token=token-1"
    )


def test_an_invitation_shows_its_copy_as_text_with_a_verification_link_and_is_dismissed(shop):
    page, _ = shop
    # when
    page.evaluate("f => window.__push(f)", hello(invitations=[INVITATION]))
    # then: copy as text (the markup in the body is not markup), focus on the card
    card = page.get_by_test_id("chat-invitation")
    expect(card).to_be_focused()
    expect(card.get_by_role("heading")).to_have_text("Questions about the delivery charge?")
    expect(card.get_by_text("<i>We</i> can help.")).to_be_visible()
    assert card.locator("i").count() == 0
    link = card.get_by_role("link", name="Verify this invitation: K7QH3MZP")
    expect(link).to_have_attribute("href", "https://shop.test/verify/K7QH3MZP")
    # when: "Not now"
    card.get_by_role("button", name="Not now").click()
    # then
    expect(card).to_be_hidden()
    assert sent(page) == [{"type": "invitation.dismiss", "invitation_id": 3}]
    assert [name for name, _ in events(page)] == ["invitation-shown", "invitation-dismissed"]
    assert events(page)[0][1] == {"invitation": INVITATION}


def test_messages_are_text_unsent_ones_fail_visibly_and_the_panel_survives_shop_css(shop):
    page, _ = shop
    page.evaluate("f => window.__push(f)", hello(conversations=[CONVERSATION]))
    page.wait_for_function("() => window.__sent().some(f => f.type === 'sync')")
    assert sent(page) == [{"type": "sync", "conversation_id": 7, "after_seq": 0}]
    page.evaluate("f => window.__push(f)", {"type": "synced", "conversation_id": 7, "last_seq": 0})
    # when: the agent's message carries markup
    text = '<img src=x onerror="window.__owned=1">Hello'
    message = {"seq": 1, "sender": "agent", "author_name": "Alex", "text": text,
               "client_message_id": "a-1", "created_at": "2026-01-05T10:01:00Z"}  # fmt: skip
    page.evaluate(
        "f => window.__push(f)", {"type": "message", "conversation_id": 7, "message": message}
    )
    # then: shown as text, nothing executed; the shop's CSS does not hide our buttons
    messages = page.get_by_test_id("chat-messages")
    expect(messages.locator(".msg.agent .text")).to_have_text([text])
    assert messages.locator("img").count() == 0
    assert page.evaluate("window.__owned") is None
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_test_id("chat-status")).to_have_css("color", "rgb(255, 255, 255)")
    # when: the shopper sends, and the server refuses it as too long
    page.get_by_role("textbox", name="Message").fill("Hi")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function("() => window.__sent().some(f => f.type === 'message.send')")
    send = [f for f in sent(page) if f["type"] == "message.send"]
    assert [(f["conversation_id"], f["text"]) for f in send] == [(7, "Hi")]
    error = {"type": "error", "code": "too_long", "message": "Too long.",
             "ref": send[0]["client_message_id"]}  # fmt: skip
    page.evaluate("f => window.__push(f)", error)
    # then
    expect(messages.locator(".msg.failed")).to_contain_text("Too long: shorten your message.")
    expect(page.get_by_test_id("chat-error")).to_have_text("Your message is too long.")
    # and: the read receipt for what the shopper saw went out once
    assert [f for f in sent(page) if f["type"] == "read"] == [
        {"type": "read", "conversation_id": 7, "seq": 1}
    ]


def test_unsent_messages_are_resent_with_the_same_id_after_a_reconnect_with_a_new_token(shop):
    page, api = shop
    page.evaluate("f => window.__push(f)", hello(conversations=[CONVERSATION]))
    page.evaluate("f => window.__push(f)", {"type": "synced", "conversation_id": 7, "last_seq": 0})
    page.get_by_role("textbox", name="Message").fill("Still there?")
    page.get_by_role("button", name="Send").click()
    first = [f for f in sent(page) if f["type"] == "message.send"]
    # when: the server closes with 4401 (token expired) before confirming the message
    page.evaluate("window.__sockets[0].drop(4401)")
    page.wait_for_function(
        "() => window.__sockets.length === 2 && window.__sockets[1].readyState === 1",
        timeout=5000,
    )
    page.evaluate("f => window.__push(f)", hello(conversations=[CONVERSATION]))
    page.evaluate("f => window.__push(f)", {"type": "synced", "conversation_id": 7, "last_seq": 0})
    # then: a new token, a sync, and the same message with the same id
    assert len(api.sessions) == 2
    assert page.evaluate("window.__sockets[1].url").endswith("?token=token-2")
    again = page.evaluate("window.__sockets[1].sent.filter(f => f.type !== 'ping')")
    assert again == [{"type": "sync", "conversation_id": 7, "after_seq": 0}, first[0]]


def test_an_offer_shows_the_new_total_and_accepting_hands_the_grant_to_the_page(shop):
    page, _ = shop
    page.evaluate("f => window.__push(f)", hello(conversations=[CONVERSATION]))
    # when
    page.evaluate("f => window.__push(f)", {"type": "offer", "offer": OFFER})
    card = page.get_by_test_id("chat-offer")
    # then
    expect(card.get_by_role("heading")).to_have_text("Waive the delivery charge")
    expect(card.get_by_test_id("offer-totals")).to_have_text("Total before: €48.40 → now: €38.50")
    card.get_by_role("button", name="Accept offer").click()
    assert [f for f in sent(page) if f["type"].startswith("offer")] == [
        {"type": "offer.accept", "offer_id": 11}
    ]
    # when: the server accepts and issues the grant
    page.evaluate(
        "f => window.__push(f)", {"type": "offer", "offer": {**OFFER, "status": "accepted"}}
    )
    page.evaluate("f => window.__push(f)", {"type": "grant", "grant": GRANT})
    # then
    expect(card.get_by_test_id("offer-status")).to_have_text("Accepted — it applies to your order.")
    assert events(page) == [
        ["offer-shown", {"offer": OFFER}],
        ["offer-accepted", {"offer": {**OFFER, "status": "accepted"}}],
        ["grant", GRANT],
    ]
    assert page.evaluate("CartAssist.grants()") == [GRANT]


def test_an_offer_refused_on_accept_says_why(shop):
    page, _ = shop
    page.evaluate("f => window.__push(f)", hello(conversations=[CONVERSATION], offers=[OFFER]))
    # when
    refused = {
        **OFFER,
        "status": "refused_on_accept",
        "refusal_reason": "Your delivery charge has changed; ask for a new offer.",
        "refusal_code": "delivery_changed",
    }
    page.evaluate("f => window.__push(f)", {"type": "offer", "offer": refused})
    # then: the widget words the code in the shopper's language (English here)
    expect(page.get_by_test_id("offer-status")).to_have_text(
        "This offer could not be applied: your delivery charge has changed; ask for a new offer."
    )
    expect(page.get_by_role("button", name="Accept offer")).to_have_count(0)


def test_on_a_phone_the_chat_is_a_full_width_sheet_and_escape_minimises_it(shop):
    page, _ = shop
    page.set_viewport_size({"width": 360, "height": 640})
    page.evaluate("f => window.__push(f)", hello(conversations=[CONVERSATION]))
    panel = page.get_by_test_id("chat-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert (box["x"], box["width"]) == (0, 360)
    # when
    page.get_by_role("textbox", name="Message").press("Escape")
    # then: minimised to the launcher, which has the focus; it restores the panel
    launcher = page.get_by_role("button", name="Open chat")
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    launcher.press("Enter")
    expect(panel).to_be_visible()


def test_a_closed_chat_tells_the_page(shop):
    page, _ = shop
    page.evaluate("f => window.__push(f)", hello(conversations=[CONVERSATION]))
    # when: the shopper ends the chat and the server confirms
    page.get_by_role("button", name="End chat").click()
    assert [f for f in sent(page) if f["type"] == "conversation.close"] == [
        {"type": "conversation.close", "conversation_id": 7}
    ]
    page.evaluate(
        "f => window.__push(f)",
        {"type": "conversation.closed", "conversation_id": 7, "reason": "visitor"},
    )
    # then
    expect(page.get_by_test_id("chat-status")).to_have_text("This chat has ended.")
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()
    assert events(page) == [["chat-closed", {"conversation_id": 7, "reason": "visitor"}]]

    # when: the shopper goes to the next page
    page.reload()
    page.wait_for_function("() => window.__sockets.length === 1")
    page.evaluate("f => window.__push(f)", hello())
    # then: the ended chat is not shown again
    expect(page.get_by_test_id("chat-panel")).to_be_hidden()
    assert page.evaluate("window.__sent()") == []
