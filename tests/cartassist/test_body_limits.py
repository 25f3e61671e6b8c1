"""The API's body size limit, enforced by the project itself while reading.

Three layers are tested: ``read_body`` on its own (WSGI and ASGI requests), the view
through Django's test client (WSGI), and the ASGI application driven with raw ASGI
messages — where Django would otherwise buffer a body of any size, whatever
Content-Length says.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIRequest
from django.test import RequestFactory

from cartassist.api.body import read_body
from cartassist.api.errors import PayloadTooLarge
from cartassist.asgi import application
from cartassist.models import Cart, CartEvent
from tests.fixtures.carts import make_event
from tests.fixtures.sites import SHOP_ORIGIN

LIMIT = 2048  # for read_body and the view; the ASGI wrapper keeps the configured limit
WIDGET_PATH = "/api/v1/widget/events"
HANG_GUARD = 30  # seconds; only stops a broken test from hanging, never asserts timing


def stored() -> tuple[int, int]:
    return CartEvent.objects.count(), Cart.objects.count()


def too_large(limit: int) -> dict[str, str]:
    return {"detail": f"Request body too large: the limit is {limit} bytes."}


def batch_body(site: Any, size: int) -> bytes:
    """A valid one-event batch, padded with JSON whitespace to exactly ``size`` bytes."""
    body = json.dumps({"site_key": site.public_key, "events": [make_event()]}).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


# --- read_body ---------------------------------------------------------------------------


def asgi_request(body: bytes, *, content_length: int | None) -> tuple[ASGIRequest, io.BytesIO]:
    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {"type": "http", "method": "POST", "path": WIDGET_PATH, "headers": headers}
    stream = io.BytesIO(body)
    return ASGIRequest(scope, stream), stream


@pytest.mark.parametrize(
    "content_length", [None, 10, LIMIT], ids=["missing", "understated", "at-limit"]
)
def test_read_body_stops_one_byte_past_the_limit(settings, content_length):
    # given: under ASGI the stream holds the whole body, whatever Content-Length says
    settings.CARTASSIST_MAX_BODY_BYTES = LIMIT
    request, stream = asgi_request(b"x" * (LIMIT * 50), content_length=content_length)
    # when
    with pytest.raises(PayloadTooLarge) as refused:
        read_body(request)
    # then
    assert str(refused.value.detail) == f"Request body too large: the limit is {LIMIT} bytes."
    assert stream.tell() == LIMIT + 1


def test_read_body_refuses_a_declared_length_over_the_limit_before_reading(settings):
    # given
    settings.CARTASSIST_MAX_BODY_BYTES = LIMIT
    request, stream = asgi_request(b"{}", content_length=LIMIT + 1)
    # when
    with pytest.raises(PayloadTooLarge):
        read_body(request)
    # then
    assert stream.tell() == 0


@pytest.mark.parametrize("size", [0, 1, LIMIT - 1, LIMIT])
def test_read_body_returns_a_body_up_to_the_limit_exactly(settings, size):
    # given
    settings.CARTASSIST_MAX_BODY_BYTES = LIMIT
    body = bytes(range(256)) * (size // 256) + b"y" * (size % 256)
    request, _ = asgi_request(body, content_length=None)
    # when
    read = read_body(request)
    # then
    assert read == body


def test_read_body_honours_content_length_under_wsgi(settings):
    # given: a WSGI server hands Django exactly Content-Length bytes
    settings.CARTASSIST_MAX_BODY_BYTES = LIMIT
    request = RequestFactory().post(WIDGET_PATH, b"0123456789", content_type="text/plain")
    # when
    read = read_body(request)
    # then
    assert read == b"0123456789"


# --- the view, through the WSGI test client ------------------------------------------------


def post(client: Any, body: bytes, **extra: Any) -> Any:
    return client.post(
        WIDGET_PATH, body, content_type="text/plain", HTTP_ORIGIN=SHOP_ORIGIN, **extra
    )


def test_a_body_at_the_limit_is_accepted(client, site, settings):
    # given
    settings.CARTASSIST_MAX_BODY_BYTES = LIMIT
    # when
    response = post(client, batch_body(site, LIMIT))
    # then
    assert response.status_code == 200, response.json()
    assert stored() == (1, 1)


def test_a_body_one_byte_over_the_limit_is_refused(client, site, settings):
    # given
    settings.CARTASSIST_MAX_BODY_BYTES = LIMIT
    # when
    response = post(client, batch_body(site, LIMIT + 1))
    # then
    assert response.status_code == 413
    assert response.json() == too_large(LIMIT)
    assert stored() == (0, 0)


def test_an_understated_content_length_never_reaches_past_the_declared_bytes(
    client, site, settings
):
    # given: WSGI cuts the body at Content-Length, so the batch arrives truncated
    settings.CARTASSIST_MAX_BODY_BYTES = LIMIT
    body = batch_body(site, LIMIT * 4)
    # when
    response = post(client, body, CONTENT_LENGTH="20")
    # then
    assert response.status_code == 400
    assert response.json()["errors"] == {"body": [response.json()["detail"]]}
    assert response.json()["detail"].startswith("The request body is not valid JSON")
    assert stored() == (0, 0)


def test_a_chunked_body_hidden_by_the_wsgi_server_needs_a_content_length(client, site):
    # given: a WSGI server that does not de-chunk presents no Content-Length and no body
    # when
    response = client.generic(
        "POST",
        WIDGET_PATH,
        b"",
        content_type="text/plain",
        HTTP_ORIGIN=SHOP_ORIGIN,
        HTTP_TRANSFER_ENCODING="chunked",
    )
    # then
    assert "CONTENT_LENGTH" not in response.wsgi_request.META
    assert response.status_code == 411
    assert response.json() == {"detail": "A Content-Length header is required."}
    assert stored() == (0, 0)


def test_the_limit_applies_to_the_signed_server_endpoint_too(post_events, site, settings):
    # given
    settings.CARTASSIST_MAX_BODY_BYTES = 200
    events = [make_event(id=f"evt-{n}") for n in range(3)]
    # when
    response = post_events.server(events)
    # then
    assert response.status_code == 413
    assert response.json() == too_large(200)
    assert stored() == (0, 0)


# --- the ASGI application, driven with raw ASGI messages -----------------------------------

ASGI_LIMIT: int = application.application_mapping["http"].max_bytes


def http_scope(*, content_length: int | None, path: str = WIDGET_PATH) -> dict[str, Any]:
    headers = [
        (b"host", b"testserver"),
        (b"origin", SHOP_ORIGIN.encode()),
        (b"content-type", b"text/plain;charset=UTF-8"),
    ]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def asgi_post(
    body: bytes, *, chunks: int, content_length: int | None, finish: bool = True
) -> tuple[int, dict[str, Any]]:
    """Send ``body`` to the ASGI app in ``chunks`` messages; return (status, JSON body).

    With ``finish=False`` the last chunk still says more_body=True, as if the client kept
    the upload open: the answer must come without waiting for the rest.
    """

    async def run() -> tuple[int, dict[str, Any]]:
        communicator = ApplicationCommunicator(
            application, http_scope(content_length=content_length)
        )
        size = -(-len(body) // chunks)
        parts = [body[i : i + size] for i in range(0, len(body), size)]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await communicator.send_input(
                {"type": "http.request", "body": part, "more_body": not (last and finish)}
            )
        start = await communicator.receive_output(HANG_GUARD)
        content = b""
        while True:
            message = await communicator.receive_output(HANG_GUARD)
            content += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(HANG_GUARD)
        return start["status"], json.loads(content)

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_asgi_accepts_a_chunked_body_without_content_length(site):
    # given: the positive control for the refusals below
    body = batch_body(site, 4096)
    # when
    status, payload = asgi_post(body, chunks=4, content_length=None)
    # then
    assert status == 200, payload
    assert payload == {"stored": [json.loads(body)["events"][0]["id"]], "duplicates": []}
    assert stored() == (1, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("content_length", [None, 100], ids=["missing", "understated"])
def test_asgi_refuses_a_chunked_body_over_the_limit(site, content_length):
    # given: a valid batch, padded past the limit, sent in five chunks
    body = batch_body(site, ASGI_LIMIT + 1)
    # when
    status, payload = asgi_post(body, chunks=5, content_length=content_length)
    # then
    assert status == 413
    assert payload == too_large(ASGI_LIMIT)
    assert stored() == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_asgi_refuses_as_soon_as_the_limit_is_passed(site):
    # given: the client keeps sending; more_body is still True on the last chunk sent
    body = batch_body(site, ASGI_LIMIT * 2)
    # when
    status, payload = asgi_post(body, chunks=8, content_length=None, finish=False)
    # then
    assert status == 413
    assert payload == too_large(ASGI_LIMIT)
    assert stored() == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_asgi_refuses_a_declared_length_over_the_limit(site):
    # given: a small body that claims to be large
    body = batch_body(site, 1024)
    # when
    status, payload = asgi_post(body, chunks=1, content_length=ASGI_LIMIT + 1)
    # then
    assert status == 413
    assert payload == too_large(ASGI_LIMIT)
    assert stored() == (0, 0)
