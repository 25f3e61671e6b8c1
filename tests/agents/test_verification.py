"""Credibility: a shopper can check that an invitation's code is genuine, for which shop,
and when it was sent — through the API and the public HTML page."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tests.fixtures.agents import make_agent, make_invitation, make_stalled_cart
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation(site):
    site.name = "Mugs & More"
    site.save()
    make_agent(site, name="Ada")
    return make_invitation(make_stalled_cart(site), now=timezone.now())


def test_api_confirms_a_genuine_code_with_the_shop_and_when_it_was_sent(client, invitation):
    # when
    response = client.get(f"/api/v1/verify/{invitation.verification_code}")

    # then
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("genuine", "shop", "agent_name", "topic")} == {
        "genuine": True,
        "shop": "Mugs & More",
        "agent_name": "Ada",
        "topic": "Questions about the delivery charge?",
    }
    assert parse_datetime(body["sent_at"]) == invitation.sent_at
    assert parse_datetime(body["expires_at"]) == invitation.expires_at


def test_api_accepts_the_code_in_lower_case(client, invitation):
    response = client.get(f"/api/v1/verify/{invitation.verification_code.lower()}")
    assert (response.status_code, response.json()["genuine"]) == (200, True)


@pytest.mark.parametrize("code", ["ABCDEFGH", "A", "X" * 17, "%3Cscript%3E"])
def test_api_answers_404_not_genuine_for_any_other_code(client, invitation, code):
    # when
    response = client.get(f"/api/v1/verify/{code}")

    # then
    assert (response.status_code, response.json()) == (404, {"genuine": False})


def test_page_confirms_a_genuine_code(client, invitation):
    # when
    response = client.get(f"/verify/{invitation.verification_code}")

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "This invitation is genuine" in html
    assert "Mugs &amp; More" in html
    assert invitation.verification_code in html
    assert f"on {invitation.sent_at:%-d %B %Y, %H:%M} UTC" in html
    assert "Ada" in html


def test_page_for_an_unknown_code_says_so_with_404(client, invitation):
    # when
    response = client.get("/verify/ABCDEFGH")

    # then
    assert response.status_code == 404
    html = response.content.decode()
    assert "We don't know this code" in html
    assert "This invitation is genuine" not in html


def test_page_escapes_what_it_echoes(client, invitation):
    # when: a crafted link puts markup where the code goes
    response = client.get("/verify/%3Cimg%20src=x%3E")

    # then
    assert response.status_code == 404
    html = response.content.decode()
    assert "<img src=x>" not in html
    assert "&lt;img src=x&gt;" in html


def test_page_escapes_the_shop_name(client):
    # given: a shop name with markup (set by a merchandiser, shown to the public)
    site = make_site(name='<script>alert("shop")</script>')
    invitation = make_invitation(make_stalled_cart(site))

    # when
    response = client.get(f"/verify/{invitation.verification_code}")

    # then
    html = response.content.decode()
    assert '<script>alert("shop")</script>' not in html
    assert "&lt;script&gt;alert(&quot;shop&quot;)&lt;/script&gt;" in html


def test_codes_of_another_shop_name_that_shop(client, invitation):
    # given: two shops on one CartAssist; the page names the shop that sent the code
    other = make_site(name="Other Shop")
    theirs = make_invitation(make_stalled_cart(other))

    # when
    response = client.get(f"/api/v1/verify/{theirs.verification_code}")

    # then
    assert response.json()["shop"] == "Other Shop"
