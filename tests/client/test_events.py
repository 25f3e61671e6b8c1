"""Server events through the client, against the real API (live_server): stored once,
batched, retried with a fresh signature, refused with the server's field errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cartassist.client import ApiError, CartAssistClient, Event, TransportError
from cartassist.models import Cart, CartEvent

pytestmark = pytest.mark.django_db(transaction=True)


def quote(cart_id: str = "cart-1", fee: str | Decimal = Decimal("9.90"), **extra) -> Event:
    return Event(
        type="shipping_quoted",
        cart_id=cart_id,
        visitor_id="visitor-1",
        data={"currency": "EUR", "fee": fee, "method": "standard"},
        **extra,
    )


def stored_ids() -> list[str]:
    return sorted(CartEvent.objects.values_list("event_id", flat=True))


def test_events_are_stored_as_trusted_server_events(ca):
    # given
    basket = Event(
        type="cart_updated",
        cart_id="cart-1",
        visitor_id="visitor-1",
        customer_id="C-1",
        data={
            "currency": "EUR",
            "subtotal": Decimal("60.00"),
            "lines": [{"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": Decimal("30.00")}],
        },
        occurred_at=datetime.now(UTC) - timedelta(seconds=5),
    )
    shipping = quote()
    # when
    result = ca.send_events([basket, shipping])
    # then
    assert (result.stored, result.duplicates, result.requests) == (
        [basket.id, shipping.id],
        [],
        1,
    )
    assert stored_ids() == sorted([basket.id, shipping.id])
    assert set(CartEvent.objects.values_list("source", "customer_id")) == {
        ("server", "C-1"),
        ("server", ""),
    }
    cart = Cart.objects.get(external_id="cart-1")
    assert (cart.subtotal, cart.shipping_fee, cart.currency) == (
        Decimal("60.00"),
        Decimal("9.90"),
        "EUR",
    )


def test_the_same_event_sent_twice_is_stored_once(ca):
    # given
    event = quote()
    ca.send_events([event])
    # when: the same Event object again (same id), signed anew by the client
    again = ca.send_events([event])
    # then
    assert (again.stored, again.duplicates) == ([], [event.id])
    assert stored_ids() == [event.id]


def test_a_batch_larger_than_the_servers_limit_is_split(make_client, proxy):
    # given: 250 events; the server takes at most 100 a request
    ca = make_client(base_url=proxy.url)
    events = [quote(cart_id=f"cart-{n % 7}") for n in range(250)]
    # when
    result = ca.send_events(events)
    # then
    sizes = [len(seen.body.split(b'"type"')) - 1 for seen in proxy.seen]
    assert sizes == [100, 100, 50]
    assert [seen.upstream_status for seen in proxy.seen] == [200, 200, 200]
    assert (len(result.stored), result.duplicates, result.requests) == (250, [], 3)
    assert stored_ids() == sorted(event.id for event in events)


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(503, "5"), (429, "17"), (500, None), (502, None)],
)
def test_a_refused_attempt_is_retried_with_a_new_signature(
    make_client, proxy, sleeps, status, retry_after
):
    # given: the first attempt is answered with an error, without reaching CartAssist
    headers = {"Retry_After": retry_after} if retry_after else {}
    proxy.then("fail", status, **headers)
    ca = make_client(base_url=proxy.url, backoff=0.5)
    event = quote()
    # when
    result = ca.send_events([event])
    # then: the retry is signed anew and accepted by the real API
    first, retry = proxy.seen
    assert (first.upstream_status, first.answered) == (None, status)
    assert retry.upstream_status == 200
    assert retry.body == first.body
    assert retry.signature != first.signature
    assert int(retry.headers["X-CartAssist-Timestamp"]) > int(
        first.headers["X-CartAssist-Timestamp"]
    )
    assert result.stored == [event.id]
    assert stored_ids() == [event.id]
    # and the back-off honours Retry-After (else 0.5 s ± 50 % jitter)
    [waited] = sleeps
    if retry_after:
        assert waited >= int(retry_after)
    else:
        assert 0.25 <= waited <= 0.75


def test_a_lost_answer_is_retried_and_the_event_is_stored_once(make_client, proxy):
    # given: CartAssist stores the batch, but its answer is lost (the client sees a 504)
    proxy.then("lose", 504)
    ca = make_client(base_url=proxy.url)
    event = quote()
    # when
    result = ca.send_events([event])
    # then
    first, retry = proxy.seen
    assert (first.upstream_status, retry.upstream_status) == (200, 200)
    assert retry.signature != first.signature
    assert (result.stored, result.duplicates) == ([], [event.id])
    assert stored_ids() == [event.id]


def test_the_back_off_doubles_and_gives_up_after_max_retries(make_client, proxy, sleeps):
    # given: CartAssist keeps answering 503 (Redis down, say)
    for _ in range(4):
        proxy.then("fail", 503)
    ca = make_client(base_url=proxy.url, max_retries=3, backoff=1.0)
    # when
    with pytest.raises(ApiError) as raised:
        ca.send_events([quote()])
    # then
    assert raised.value.status == 503
    assert raised.value.detail == "injected 503"
    assert len(proxy.seen) == 4
    assert len({seen.signature for seen in proxy.seen}) == 4
    assert [0.5 <= s / 2**n <= 1.5 for n, s in enumerate(sleeps)] == [True] * 3
    assert stored_ids() == []


def test_a_refused_batch_raises_the_servers_field_errors_without_retrying(
    make_client, proxy, sleeps
):
    # given: the second event has a negative delivery fee
    ca = make_client(base_url=proxy.url)
    events = [quote(), quote(fee="-1.00")]
    # when
    with pytest.raises(ApiError) as raised:
        ca.send_events(events)
    # then
    error = raised.value
    assert error.status == 400
    assert list(error.errors) == ["events"]
    assert list(error.errors["events"]) == ["1"]
    assert "fee" in error.errors["events"]["1"]["data"]
    assert error.partial is not None
    assert error.partial.stored == []
    assert len(proxy.seen) == 1
    assert sleeps == []
    assert stored_ids() == []


def test_a_wrong_secret_is_a_401_and_is_not_retried(make_client, sleeps):
    # given
    ca = make_client(secret="sk_not-the-sites-secret")
    # when
    with pytest.raises(ApiError) as raised:
        ca.send_events([quote()])
    # then
    assert raised.value.status == 401
    assert "X-CartAssist-Signature" in raised.value.errors
    assert sleeps == []
    assert stored_ids() == []


def test_an_unreachable_server_is_retried_then_a_transport_error(site, sleeps):
    # given: nothing listens on this port
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ca = CartAssistClient(
        base_url=f"http://127.0.0.1:{port}",
        site_key=site.public_key,
        secret=site.secret,
        max_retries=2,
        sleep=sleeps,
    )
    # when
    with pytest.raises(TransportError):
        ca.send_events([quote()])
    # then
    assert len(sleeps) == 2


def test_queued_events_are_sent_when_the_batch_is_full_and_on_flush(make_client):
    # given
    ca = make_client(batch_size=2)
    events = [quote(cart_id=f"cart-{n}") for n in range(3)]
    # when
    results = [ca.queue(event) for event in events]
    # then: the second event filled the batch and sent it
    assert results[0] is None
    assert results[2] is None
    assert results[1] is not None
    assert results[1].stored == [events[0].id, events[1].id]
    assert (ca.queued, stored_ids()) == (1, sorted([events[0].id, events[1].id]))
    # when
    flushed = ca.flush()
    # then
    assert (flushed.stored, ca.queued) == ([events[2].id], 0)
    assert stored_ids() == sorted(event.id for event in events)


def test_a_failed_flush_keeps_the_events_queued(make_client, proxy):
    # given
    proxy.then("fail", 400)
    ca = make_client(base_url=proxy.url)
    event = quote()
    ca.queue(event)
    # when
    with pytest.raises(ApiError):
        ca.flush()
    # then
    assert ca.queued == 1
    assert stored_ids() == []
    assert ca.flush().stored == [event.id]
    assert ca.queued == 0


def test_a_redirect_is_not_followed(make_client, proxy, sleeps):
    # given: base_url points at something that redirects (http → https, say)
    proxy.then("fail", 301, Location=proxy.url + "/elsewhere")
    ca = make_client(base_url=proxy.url)
    # when
    with pytest.raises(ApiError) as raised:
        ca.send_events([quote()])
    # then: no POST re-sent as a GET, no retry
    assert raised.value.status == 301
    assert [(seen.method, seen.path) for seen in proxy.seen] == [("POST", "/api/v1/server/events")]
    assert sleeps == []


def test_a_success_that_is_not_cartassists_json_is_an_error(make_client, proxy):
    # given: something in between answers 200 with a page instead of CartAssist's JSON
    proxy.then("fail", 200)
    ca = make_client(base_url=proxy.url)
    # when
    with pytest.raises(ApiError) as raised:
        ca.send_events([quote()])
    # then: the client does not pretend the events were stored
    assert raised.value.status == 200
    assert stored_ids() == []
