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
from cartassist.models import Visitor
from tests.fixtures.agents import FRAME_TIMEOUT, widget_communicator
from tests.fixtures.sites import SHOP_ORIGIN


def session(
    client,
    site_key: str,
    visitor_id: str = "v_5f2c",
    *,
    origin=SHOP_ORIGIN,
    language=None,
    **extra,
):
    headers = {"HTTP_ORIGIN": origin} if origin is not None else {}
    fields = {"site_key": site_key, "visitor_id": visitor_id}
    if language is not None:
        fields["language"] = language
    body = json.dumps(fields)
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
    assert set(body) == {"token", "expires_at", "socket_url", "language", "site"}
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


# --- the shopper's language and the shop's branding (docs/WIDGET.md) ---------------------


@pytest.mark.django_db
def test_session_answers_the_sites_branding(client, site):
    # given
    site.display_name = "Maple & Thread"
    site.brand_colour = "#1f6f4a"
    site.logo_url = "https://shop.example/logo.png"
    site.languages = ["de", "en"]
    site.save()

    # when
    body = session(client, site.public_key).json()

    # then
    assert body["site"] == {
        "display_name": "Maple & Thread",
        "brand_colour": "#1f6f4a",
        "text_colour": "#ffffff",
        "logo_url": "https://shop.example/logo.png",
        "languages": ["de", "en"],
        "currency": "EUR",
        "timezone": "Europe/Berlin",
    }


@pytest.mark.django_db
def test_session_branding_falls_back_to_the_name_and_dark_text_on_a_light_colour(client, site):
    # given: no display name, a light brand colour, no logo
    site.brand_colour = "#f5c518"
    site.save()

    # when
    branding = session(client, site.public_key).json()["site"]

    # then
    assert (branding["display_name"], branding["text_colour"], branding["logo_url"]) == (
        "Test Shop",
        "#111827",
        "",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("requested", "resolved"),
    [("de-AT", "de"), ("de", "de"), ("EN_gb", "en"), ("fr", "de"), ("", "de"), (None, "de")],
)
def test_session_resolves_the_language_to_one_of_the_sites_and_stores_it(
    client, site, requested, resolved
):
    # given
    site.languages = ["de", "en"]
    site.save()

    # when
    response = session(client, site.public_key, "v_lang", language=requested)

    # then
    assert response.status_code == 200
    assert response.json()["language"] == resolved
    assert Visitor.objects.get(site=site, external_id="v_lang").language == resolved


@pytest.mark.django_db
def test_session_without_a_language_keeps_the_one_remembered_for_the_visitor(client, site):
    # given: a page in English said so before
    site.languages = ["de", "en"]
    site.save()
    session(client, site.public_key, "v_lang", language="en-GB")

    # when: a page without lang
    response = session(client, site.public_key, "v_lang")

    # then
    assert response.json()["language"] == "en"
    assert Visitor.objects.get(site=site, external_id="v_lang").language == "en"


@pytest.mark.django_db
def test_session_with_a_new_language_replaces_the_remembered_one(client, site):
    # given
    site.languages = ["de", "en"]
    site.save()
    session(client, site.public_key, "v_lang", language="en")

    # when
    response = session(client, site.public_key, "v_lang", language="de-CH")

    # then
    assert response.json()["language"] == "de"
    assert Visitor.objects.get(site=site, external_id="v_lang").language == "de"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("x" * 36, "Ensure this field has no more than 35 characters."),
        ("de AT", 'Send a BCP 47 language tag such as "de" or "de-AT".'),
        ("<script>", 'Send a BCP 47 language tag such as "de" or "de-AT".'),
        ("de--AT", 'Send a BCP 47 language tag such as "de" or "de-AT".'),
        ("123", 'Send a BCP 47 language tag such as "de" or "de-AT".'),
        (["de"], "Not a valid string."),
        ({"code": "de"}, "Not a valid string."),
    ],
)
def test_session_with_a_malformed_language_is_a_bad_request_naming_the_field(
    client, site, language, error
):
    # when
    response = session(client, site.public_key, "v_bad", language=language)

    # then: refused, and nothing stored
    assert response.status_code == 400
    assert response.json()["errors"] == {"language": [error]}
    assert not Visitor.objects.filter(site=site, external_id="v_bad").exists()


@pytest.mark.django_db
def test_the_schema_declares_the_language_and_the_branding(client):
    # when
    schema = json.loads(client.get("/api/schema/", {"format": "json"}).content)

    # then
    components = schema["components"]["schemas"]
    assert components["SessionRequestRequest"]["properties"]["language"]["maxLength"] == 35
    assert "language" not in components["SessionRequestRequest"]["required"]
    assert {"language", "site"} <= set(components["SessionResponse"]["required"])
    assert set(components["SiteBranding"]["properties"]) == {
        "display_name",
        "brand_colour",
        "text_colour",
        "logo_url",
        "languages",
        "currency",
        "timezone",
    }
