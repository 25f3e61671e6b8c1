"""POST /api/v1/widget/session: a visitor token for the widget socket, for browsers on the
site's allowed origins only."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agents.tokens import VisitorIdentity, visitor_token_verify
from tests.fixtures.agents import FRAME_TIMEOUT, widget_communicator
from tests.fixtures.sites import SHOP_ORIGIN


def session(client, site_key: str, visitor_id: str = "v_5f2c", *, origin=SHOP_ORIGIN, **extra):
    headers = {"HTTP_ORIGIN": origin} if origin is not None else {}
    body = json.dumps({"site_key": site_key, "visitor_id": visitor_id})
    return client.post(
        "/api/v1/widget/session", body, content_type="text/plain", **headers, **extra
    )


@pytest.mark.django_db
def test_session_issues_a_token_for_this_site_and_visitor(client, site, settings):
    # given
    settings.CARTASSIST_VISITOR_TOKEN_TTL = timedelta(hours=24)
    now = timezone.now().replace(microsecond=0)

    # when
    with time_machine.travel(now, tick=False):
        response = session(client, site.public_key, "v_5f2c")

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at", "socket_url"}
    assert body["socket_url"] == "/ws/widget/"
    assert parse_datetime(body["expires_at"]) == now + timedelta(hours=24)
    assert visitor_token_verify(body["token"]) == VisitorIdentity(
        site_id=site.pk, visitor_id="v_5f2c"
    )
    assert response["Access-Control-Allow-Origin"] == SHOP_ORIGIN


@pytest.mark.django_db
def test_session_from_an_origin_not_on_the_list_is_forbidden(client, site):
    # when
    response = session(client, site.public_key, origin="https://evil.example")

    # then
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Origin https://evil.example is not allowed for this site.",
        "errors": {"origin": ["Origin https://evil.example is not allowed for this site."]},
    }
    assert "token" not in response.json()


@pytest.mark.django_db
def test_session_without_an_origin_is_forbidden(client, site):
    # when: not from a browser
    response = session(client, site.public_key, origin=None)

    # then
    assert response.status_code == 403
    assert response.json()["errors"] == {
        "origin": ["An Origin header is required: call this endpoint from a browser."]
    }


@pytest.mark.django_db
def test_session_with_an_unknown_site_key_is_forbidden(client, site):
    response = session(client, "pk_not_a_real_key")
    assert (response.status_code, response.json()["errors"]) == (
        403,
        {"site_key": ["Unknown site key."]},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("visitor_id", ["", "has spaces", "x" * 65, "<script>"])
def test_session_with_an_invalid_visitor_id_is_a_bad_request(client, site, visitor_id):
    response = session(client, site.public_key, visitor_id)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["visitor_id"]


@pytest.mark.django_db(transaction=True)
async def test_token_from_the_session_api_opens_the_widget_socket(async_client, site, sockets):
    # given
    response = await async_client.post(
        "/api/v1/widget/session",
        json.dumps({"site_key": site.public_key, "visitor_id": "v_5f2c"}),
        content_type="text/plain",
        headers={"Origin": SHOP_ORIGIN},
    )
    ws = widget_communicator(response.json()["token"])
    sockets.opened.append(ws)

    # when
    connected, _ = await ws.connect(timeout=FRAME_TIMEOUT)
    hello = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert connected
    assert (hello["type"], hello["visitor_id"]) == ("hello", "v_5f2c")


@pytest.mark.django_db(transaction=True)
async def test_token_of_one_site_does_not_open_another_sites_socket_origin(
    async_client, site, sockets
):
    # given: a genuine token, replayed by a page on an origin the site does not list
    response = await async_client.post(
        "/api/v1/widget/session",
        json.dumps({"site_key": site.public_key, "visitor_id": "v_5f2c"}),
        content_type="text/plain",
        headers={"Origin": SHOP_ORIGIN},
    )
    token = response.json()["token"]

    # when
    outcome = await sockets.refused(widget_communicator(token, origin="https://evil.example"))

    # then
    assert outcome == {"type": "websocket.close", "code": 4403}
    assert await database_sync_to_async(visitor_token_verify)(token) is not None
