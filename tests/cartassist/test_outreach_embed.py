"""The helpdesk sidebar: a signed, expiring embed page of the outreach lookup
(cartassist/embed/, docs/integrations/helpdesk.md): signature, expiry, scope, framing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from cartassist.embed.signing import embed_url
from cartassist.models import Site
from tests.fixtures.outreach import a_rescued_shopper
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

SUMMARY = "Are you calling about our chat about your delivery charge?"
HELPDESK = "https://acme.helpdesk.example"


def url(site: Site, *, secret: str = "", lifetime: int = 300, **lookup: str) -> str:
    return embed_url(
        secret=secret or site.secret,
        site_key=site.public_key,
        expires=int(time.time()) + lifetime,
        **(lookup or {"customer_id": "C-1"}),
    )


@pytest.fixture
def framed_site(site: Site) -> Site:
    site.allowed_origins = ["https://shop.example", HELPDESK]
    site.save()
    return site


def test_a_signed_url_shows_the_lookup_framable_by_allowed_origins(
    client: Client, framed_site: Site
) -> None:
    # given
    _, expected = a_rescued_shopper(framed_site, client)
    # when
    response = client.get(url(framed_site, email="visitor-1@example.com"))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert expected["summary"] in html
    assert expected["verification_code"] in html
    assert "I can waive the delivery charge for you." in html
    assert "X-Frame-Options" not in response.headers
    assert response["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"frame-ancestors https://shop.example {HELPDESK}"
    )
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


def test_a_site_without_allowed_origins_may_not_be_framed(client: Client) -> None:
    response = client.get(url(make_site(allowed_origins=[])))
    assert response.status_code == 200
    assert response["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_other_pages_keep_x_frame_options_deny(client: Client) -> None:
    assert client.get("/healthz")["X-Frame-Options"] == "DENY"


def test_an_unknown_shopper_shows_an_empty_list(client: Client, site: Site) -> None:
    a_rescued_shopper(site, client)
    html = client.get(url(site, customer_id="C-404")).content.decode()
    assert "No outreach to this shopper in the last 7 days." in html
    assert SUMMARY not in html


def _tampered(link: str) -> str:
    return link.replace("customer_id=C-1", "customer_id=C-2")


@pytest.mark.parametrize(
    ("make_link", "message"),
    [
        (lambda site: _tampered(url(site)), "signature is not valid"),
        (lambda site: url(site, secret="not-the-secret"), "signature is not valid"),
        (lambda site: url(site).rsplit("&sig=", 1)[0], "not signed"),
        (lambda site: url(site).replace("&expires=", "&x=1&expires="), "signature is not valid"),
        (lambda site: url(site, lifetime=-1), "expired"),
        (lambda site: url(site, lifetime=3600), "too long"),
        (lambda site: url(site).replace(site.public_key, make_site().public_key), "signature"),
        (lambda site: url(site).replace(site.public_key, "pk_unknown"), "not for a known shop"),
    ],
)
def test_refused_links_show_nothing(
    client: Client, site: Site, make_link: Any, message: str
) -> None:
    # given a shopper with outreach
    a_rescued_shopper(site, client)
    # when
    response = client.get(make_link(site))
    # then
    assert response.status_code == 403
    html = response.content.decode()
    assert message in html
    assert SUMMARY not in html


def test_another_sites_link_shows_only_that_sites_shopper(client: Client, site: Site) -> None:
    _, ours = a_rescued_shopper(site, client)
    other = make_site()
    _, theirs = a_rescued_shopper(other, client, order_id="Z-9")
    ours_html = client.get(url(site)).content.decode()
    theirs_html = client.get(url(other)).content.decode()
    assert ours["summary"] in ours_html
    assert theirs["summary"] not in ours_html
    assert theirs["summary"] in theirs_html
    assert ours["summary"] not in theirs_html


@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        ({"customer_id": "C-1", "visitor_id": "visitor-1"}, "Send exactly one"),
        ({"email": "not-an-address"}, "email"),
        ({"name": "Ada"}, "Unknown field"),
    ],
)
def test_a_bad_lookup_is_a_400(client: Client, site: Site, lookup: dict, message: str) -> None:
    response = client.get(url(site, **lookup))
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_link_may_be_reloaded_until_it_expires(client: Client, site: Site) -> None:
    a_rescued_shopper(site, client)
    link = url(site)
    assert SUMMARY in client.get(link).content.decode()
    assert SUMMARY in client.get(link).content.decode()


def test_only_get(client: Client, site: Site) -> None:
    assert client.post(url(site)).status_code == 405


def test_the_documented_recipe_builds_a_link_the_page_accepts(client: Client, site: Site) -> None:
    # given the Python recipe of docs/integrations/helpdesk.md, as written there
    doc = (Path(__file__).resolve().parents[2] / "docs/integrations/helpdesk.md").read_text()
    (code,) = [
        block.split("```", 1)[0]
        for block in doc.split("```python\n")[1:]
        if "def outreach_embed_url" in block
    ]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    _, expected = a_rescued_shopper(site, client)
    # when
    link = namespace["outreach_embed_url"]("", site.public_key, site.secret, customer_id="C-1")
    response = client.get(link)
    # then
    assert response.status_code == 200
    assert expected["summary"] in response.content.decode()
