"""A shopper on the demo storefront, in headless Chromium, against a live server.

The widget runs as a shop embeds it (the queue stub and one script tag); the assertions
are on what reached the server: event rows, cart state, the sweep's decision.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agents.models import AgentProfile, AgentStatus
from cartassist.demo.seed import DEMO_STALL_THRESHOLDS, demo_seed
from cartassist.flows.sweep import stall_sweep
from cartassist.models import Cart, CartEvent, Intervention, Site, Stage, Visitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

API = "/api/v1/widget/events"


@pytest.fixture
def demo_site(shop_server: Any) -> Site:
    """The demo site as `manage.py demo` seeds it, allowing the live server's origin.
    No holdout and the demo agent online in the console, so the sweep's decision is
    "invited"."""
    seed = demo_seed(origins=[shop_server.url])
    site = seed.site
    site.holdout_share = Decimal("0")
    site.save()
    # A heartbeat an hour ahead keeps the agent online for the whole browser journey.
    AgentProfile.objects.filter(user=seed.agent).update(
        status=AgentStatus.ONLINE, last_heartbeat_at=timezone.now() + timedelta(hours=1)
    )
    return site


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def add_to_cart(page: Any, sku: str, *, count_after: int) -> None:
    page.get_by_test_id(f"product-{sku}").get_by_role("button", name="Add to cart").click()
    expect(page.get_by_test_id("cart-count")).to_have_text(str(count_after))


def shop_until_delivery_step(page: Any, base_url: str) -> None:
    """Two small items, contact details, then the delivery step (standard: 9.90 EUR)."""
    page.goto(base_url + "/demo/")
    add_to_cart(page, "MUG-ENAMEL", count_after=1)
    add_to_cart(page, "CANDLE-FIG", count_after=2)
    page.get_by_test_id("cart-link").click()
    page.get_by_role("link", name="Checkout").click()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_role("button", name="Continue to delivery").click()
    expect(page.get_by_test_id("delivery-fee")).to_have_text("€9.90")


def wait_until_delivered(page: Any) -> None:
    """The page has tracked its events (its "load" comes after the shop's DOMContentLoaded
    handler and the async widget) and the widget has delivered them."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.CartAssist.__loaded && CartAssist.pending() === 0")


def test_stalled_at_a_high_delivery_charge_records_one_shipping_shock(
    page, shop_server, demo_site, server_requests
):
    # given: a shopper puts 38.50 EUR in the cart and reaches the delivery step
    shop_until_delivery_step(page, shop_server.url)
    # when: they idle there; the widget delivers what it tracked on its own
    wait_until_delivered(page)
    server_requests.wait(lambda r: r.count(API) >= 1, "an events batch")
    cart_id = page.evaluate("document.body.dataset.cartId")
    visitor_id = page.evaluate("JSON.parse(localStorage.getItem('cartassist:v1:visitor'))")
    assert page.evaluate("CartAssist.visitorId()") == visitor_id  # for helpdesk reports
    # then: every step reached the server once, in order
    events = list(CartEvent.objects.order_by("occurred_at"))
    assert [(e.type, e.data.get("step")) for e in events] == [
        ("cart_updated", None),
        ("cart_updated", None),
        ("checkout_step", "contact"),
        ("checkout_step", "shipping"),
        ("shipping_quoted", None),
    ]
    assert {(e.cart.external_id, e.visitor_id, e.source) for e in events} == {
        (cart_id, visitor_id, "widget")
    }
    sent = ("currency", "subtotal", "lines")  # the server may add defaults to stored data
    assert {key: events[1].data[key] for key in sent} == {
        "currency": "EUR",
        "subtotal": "38.50",
        "lines": [
            {"sku": "MUG-ENAMEL", "name": "Enamel camp mug", "quantity": 1,
             "unit_price": "14.50", "category": "kitchen"},
            {"sku": "CANDLE-FIG", "name": "Fig & cedar candle", "quantity": 1,
             "unit_price": "24.00", "category": "home"},
        ],
    }  # fmt: skip
    sent = ("currency", "fee", "method", "country")
    assert {key: events[4].data[key] for key in sent} == {
        "currency": "EUR",
        "fee": "9.90",
        "method": "standard",
        "country": "DE",
    }
    cart = Cart.objects.get()
    assert (cart.stage, cart.status, cart.currency) == ("shipping", "active", "EUR")
    assert (cart.subtotal, cart.shipping_fee, cart.signal) == (
        Decimal("38.50"),
        Decimal("9.90"),
        "shipping_quoted",
    )
    assert cart.stall_deadline == cart.last_activity_at + DEMO_STALL_THRESHOLDS[Stage.SHIPPING]
    assert page.console_warnings == []

    # when: the sweep runs just before, then just after the deadline
    early = stall_sweep(now=cart.stall_deadline - timedelta(seconds=1))
    late = stall_sweep(now=cart.stall_deadline + timedelta(seconds=1))
    # then: exactly one decision, for the delivery charge
    assert (early.claimed, late.claimed) == (0, 1)
    intervention = Intervention.objects.get()
    assert (intervention.cart_id, intervention.stage, intervention.stall_reason) == (
        cart.pk,
        "shipping",
        "shipping_shock",
    )
    assert (intervention.decision, intervention.cart_value) == ("invited", Decimal("38.50"))


def test_events_queued_while_the_api_fails_are_delivered_once_after_recovery(
    page, shop_server, demo_site, server_requests
):
    # given: the API stores the first batch but the answer is lost (503), then it is
    # unreachable, then it recovers
    calls: list[str] = []

    def flaky_api(route: Any) -> None:
        calls.append(route.request.post_data)
        if len(calls) == 1:
            route.fetch()  # reaches the server, which stores the batch ...
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="unavailable")
        elif len(calls) == 2:
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route("**" + API, flaky_api)
    page.goto(shop_server.url + "/demo/")
    page.wait_for_function("() => window.CartAssist.__loaded")
    cart = {"currency": "EUR", "subtotal": "12.00", "lines": [
        {"sku": "TOWEL-LINEN", "name": "Linen tea towel", "quantity": 1, "unit_price": "12.00"}
    ]}  # fmt: skip

    # when: two events go out and get the 503; a third is tracked during the outage
    with page.expect_response(lambda r: r.url.endswith(API) and r.status == 503):
        first = page.evaluate(
            """cart => [
                CartAssist.track("cart_updated", cart, {cartId: "cart-flaky"}),
                CartAssist.track("checkout_step", {step: "contact"}, {cartId: "cart-flaky"}),
            ]""",
            cart,
        )
    later = page.evaluate(
        """() => CartAssist.track("checkout_step", {step: "shipping"}, {cartId: "cart-flaky"})"""
    )
    # ... and the widget retries on its own until the API answers
    with page.expect_response(lambda r: r.url.endswith(API) and r.status == 200) as answer:
        pass
    server_requests.wait(lambda r: r.count(API) == 2, "the stored batch and the retry")

    # then: the retry carried all three; the server stored the new one and recognised
    # the two it already had; nothing is stored twice
    assert len(calls) == 3
    assert [e["id"] for e in json.loads(calls[2])["events"]] == [*first, later]
    assert answer.value.json() == {"stored": [later], "duplicates": first}
    assert sorted(CartEvent.objects.values_list("event_id", flat=True)) == sorted([*first, later])
    assert Cart.objects.get(external_id="cart-flaky").stage == "shipping"
    assert page.evaluate("CartAssist.pending()") == 0
    assert page.console_warnings == []


def test_page_hide_beacon_delivers_pending_events(page, shop_server, demo_site, server_requests):
    # given: fetch() cannot reach the API from this page (sendBeacon is not routed)
    aborted: list[str] = []
    page.route("**" + API, lambda route: (aborted.append("fetch"), route.abort()))
    page.goto(shop_server.url + "/demo/")
    page.wait_for_function("() => window.CartAssist.__loaded")
    # when: the shopper opts out of proactive chat, then leaves for a page without the widget
    page.get_by_test_id("opt-out").click()
    expect(page.get_by_text("You won't be invited to chat on this shop.")).to_be_visible()
    assert page.evaluate("CartAssist.pending()") == 1
    visitor_id = page.evaluate("JSON.parse(localStorage.getItem('cartassist:v1:visitor'))")
    page.goto(shop_server.url + "/healthz")
    # then: the beacon sent on page hide delivered the event
    server_requests.wait(lambda r: r.count(API) == 1, "the beacon")
    event = CartEvent.objects.get()
    assert (event.type, event.visitor_id) == ("opted_out", visitor_id)
    assert Visitor.objects.get(external_id=visitor_id).opted_out_at == event.occurred_at
    assert set(aborted) <= {"fetch"}  # whatever fetch tried was refused by the route


def test_calls_made_before_the_script_loads_are_delivered(
    page, shop_server, demo_site, server_requests
):
    # given: the widget script is held back, so the page only has the queue stub
    held: list[Any] = []
    page.route("**/static/widget/cartassist.js", lambda route: held.append(route))
    page.goto(shop_server.url + "/demo/", wait_until="domcontentloaded")
    page.wait_for_function("() => CartAssist.q !== undefined")
    # when: the shop tracks through the stub, then the script arrives
    page.evaluate(
        """() => {
            CartAssist.setCart("cart-early");
            CartAssist.track("checkout_step", {step: "contact"});
        }"""
    )
    queued = page.evaluate("CartAssist.q.map(call => call[0])")
    held[0].continue_()
    wait_until_delivered(page)
    server_requests.wait(lambda r: r.count(API) == 1, "the replayed event")
    # then: the queued calls ran in order: the event belongs to the cart set before it
    assert queued == ["setCart", "track"]
    event = CartEvent.objects.get()
    assert (event.type, event.cart.external_id, event.data) == (
        "checkout_step",
        "cart-early",
        {"step": "contact"},
    )


def test_refused_events_are_dropped_with_a_warning_and_not_retried(
    page, shop_server, demo_site, server_requests
):
    # given: a shop page that tracks one valid and one invalid event (negative fee)
    page.goto(shop_server.url + "/demo/")
    page.wait_for_function("() => window.CartAssist.__loaded")
    # when
    with page.expect_response(lambda r: r.url.endswith(API) and r.status == 200) as answer:
        good, bad = page.evaluate(
            """() => [
                CartAssist.track("checkout_step", {step: "contact"}, {cartId: "cart-4xx"}),
                CartAssist.track("shipping_quoted", {currency: "EUR", fee: "-1.00"},
                                 {cartId: "cart-4xx"}),
            ]"""
        )
    server_requests.wait(lambda r: r.count(API) == 2, "the refused batch and the resend")
    # then: the server refused the batch (400, naming event 1); the widget dropped that
    # event with a warning carrying the field errors, and resent only the good one
    assert answer.value.json() == {"stored": [good], "duplicates": []}
    assert list(CartEvent.objects.values_list("event_id", flat=True)) == [good]
    assert page.evaluate("CartAssist.pending()") == 0
    assert len(page.console_warnings) == 1
    assert page.console_warnings[0].startswith(
        f"[CartAssist] event refused and dropped: shipping_quoted {bad}"
    )


def test_a_refused_origin_stops_sending_without_retries(page, shop_server, demo_site):
    # given: the API refuses this page's origin
    calls: list[str] = []

    def refuse(route: Any) -> None:
        calls.append(route.request.post_data)
        route.fulfill(
            status=403,
            content_type="application/json",
            body=json.dumps({"detail": "Origin not allowed.", "errors": {"origin": ["nope"]}}),
        )

    page.route("**" + API, refuse)
    page.goto(shop_server.url + "/demo/")
    page.wait_for_function("() => window.CartAssist.__loaded")
    # when: two flushes, with an event each
    left = page.evaluate(
        """async () => {
            CartAssist.track("checkout_step", {step: "contact"}, {cartId: "cart-403"});
            const first = await CartAssist.flush();
            CartAssist.track("checkout_step", {step: "shipping"}, {cartId: "cart-403"});
            const second = await CartAssist.flush();
            return [first, second];
        }"""
    )
    # then: one request; its event dropped; the next one kept but not sent
    assert len(calls) == 1
    assert left == [0, 1]
    assert page.console_warnings[-1] == (
        "[CartAssist] sending stopped: check data-site-key and the site's allowed origins in admin."
    )
    assert CartEvent.objects.count() == 0


def test_a_batch_too_large_for_the_server_is_split(page, shop_server, demo_site, server_requests):
    # given: a proxy in front of the API takes one event per request at most
    sizes: list[int] = []

    def one_at_a_time(route: Any) -> None:
        size = len(json.loads(route.request.post_data)["events"])
        sizes.append(size)
        if size > 1:
            route.fulfill(status=413, body="Request Entity Too Large")
        else:
            route.continue_()

    page.route("**" + API, one_at_a_time)
    page.goto(shop_server.url + "/demo/")
    page.wait_for_function("() => window.CartAssist.__loaded")
    # when
    ids, left = page.evaluate(
        """async () => {
            const ids = ["contact", "shipping", "payment"].map(step =>
                CartAssist.track("checkout_step", {step}, {cartId: "cart-413"}));
            return [ids, await CartAssist.flush()];
        }"""
    )
    server_requests.wait(lambda r: r.count(API) == 3, "three single-event requests")
    # then
    assert (sizes, left) == ([3, 1, 1, 1], 0)
    assert list(CartEvent.objects.order_by("occurred_at").values_list("event_id", flat=True)) == ids
    assert Cart.objects.get(external_id="cart-413").stage == "payment"


FAKE_FETCH = """
    window.__requests = [];
    window.fetch = (url, init) => new Promise(resolve => window.__requests.push({
        events: JSON.parse(init.body).events.map(e => e.id),
        answer: (status, retryAfter, body) => resolve({
            status,
            headers: {get: name => (name === "Retry-After" ? retryAfter : null)},
            text: () => Promise.resolve(body || ""),
        }),
    }));
"""


def test_the_back_off_holds_when_events_arrive_during_a_failing_request(
    page, shop_server, demo_site
):
    # given: the page's clock and fetch() are under the test's control
    page.clock.install()
    page.add_init_script(FAKE_FETCH)
    page.goto(shop_server.url + "/demo/")
    first = page.evaluate("CartAssist.track('checkout_step', {step: 'contact'}, {cartId: 'c'})")
    page.clock.run_for(1_000)  # the batching delay: the request goes out
    # when: another event is tracked while it is in flight (its batching timer is set),
    # then the request fails with Retry-After: 30
    second = page.evaluate("CartAssist.track('checkout_step', {step: 'shipping'}, {cartId: 'c'})")
    page.evaluate(
        """async () => {
            window.__requests[0].answer(503, "30");
            for (let i = 0; i < 20; i++) await null;  // let the widget handle the answer
        }"""
    )
    page.clock.run_for(2_000)
    during_back_off = page.evaluate("window.__requests.length")
    page.clock.run_for(30_000)
    sent = page.evaluate("window.__requests.map(r => r.events)")
    left = page.evaluate(
        """async ids => {
            window.__requests[1].answer(200, null, JSON.stringify({stored: ids, duplicates: []}));
            for (let i = 0; i < 20; i++) await null;
            return CartAssist.pending();
        }""",
        [first, second],
    )
    # then: nothing is sent before the 30 s are up; then both events go together
    assert during_back_off == 1
    assert sent == [[first], [first, second]]
    assert left == 0
