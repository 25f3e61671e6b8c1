"""Credibility: a shopper can check that an invitation's code is genuine, for which shop,
and when it was sent — through the API and the public HTML page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.throttling import SimpleRateThrottle

from agents.models import Invitation
from policies.models import Offer, OfferStatus
from policies.services.offers import offer_accept, offer_authorize
from tests.fixtures.agents import make_agent, make_invitation, make_stalled_cart
from tests.fixtures.policies import make_chat, make_policy
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
    # in the shop's time zone (the fixture's site is in Europe/Berlin), the zone named
    sent = invitation.sent_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"on {sent:%B} {sent.day}, {sent.year} at" in html
    assert "Central European" in html
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


# --- the page in the shopper's language, with the shop's branding ---------------------------

# 2026-07-14 08:05 UTC is 10:05 in Berlin (summer time).
SENT_AT = datetime(2026, 7, 14, 8, 5, tzinfo=UTC)


@pytest.fixture
def branded_chat(site):
    """A chat opened from an invitation sent at SENT_AT, with an accepted offer waiving
    the 9.90 EUR delivery charge, on a branded shop that speaks German and English."""
    site.name = "maple-thread"
    site.display_name = "Maple & Thread"
    site.brand_colour = "#1f6f4a"
    site.logo_url = "https://shop.example/logo.png"
    site.languages = ["de", "en", "fr", "es"]
    site.save()
    make_policy(site)
    with time_machine.travel(SENT_AT, tick=False):
        chat = make_chat(site, agent=make_agent(site, name="Alex Martin", now=SENT_AT))
        offer = offer_authorize(
            agent=chat.agent,
            conversation_id=chat.conversation.pk,
            kind="waive_delivery",
            amount=Decimal("9.90"),
            now=SENT_AT,
        )
        offer_accept(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=SENT_AT)
    return Invitation.objects.get(conversation=chat.conversation)


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        (
            "de",
            [
                "Diese Einladung ist echt",
                "am 14. Juli 2026 um 10:05 (Mitteleuropäische Sommerzeit) gesendet, von Alex.",
                "Versandkosten erlassen: 9,90\xa0€ (angenommen)",
                "Niemand von Maple &amp; Thread wird Sie im Chat",
            ],
        ),
        (
            "fr",
            [
                "Cette invitation est authentique",
                "le 14 juillet 2026 à 10:05 (heure d’été d’Europe centrale), de la part de Alex.",
                "Frais de livraison offerts : 9,90\xa0€ (acceptée)",
            ],
        ),
        (
            "es",
            [
                "Esta invitación es auténtica",
                "el 14 de julio de 2026 a las 10:05 (hora de verano de Europa central)",
                "Gastos de envío eliminados: 9,90\xa0€ (aceptada)",
            ],
        ),
        (
            "en",
            [
                "This invitation is genuine",
                "on July 14, 2026 at 10:05\u202fAM (Central European Summer Time), from Alex.",
                "Delivery charge waived: €9.90 (accepted)",
            ],
        ),
    ],
)
def test_page_speaks_the_requested_language_with_money_and_time_as_it_writes_them(
    client, branded_chat, language, texts
):
    # when
    response = client.get(f"/verify/{branded_chat.verification_code}?lang={language}")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == language
    assert f'<html lang="{language}"' in html
    assert [text for text in texts if text not in html] == [], html


def test_page_carries_the_shops_branding(client, branded_chat):
    # when
    html = client.get(f"/verify/{branded_chat.verification_code}").content.decode()

    # then: the shop's display name (not its internal name), logo and colours
    assert "<title>Echte Einladung von Maple &amp; Thread</title>" in html
    assert 'style="background: #1f6f4a; color: #ffffff;"' in html
    assert '<img src="https://shop.example/logo.png" alt="">' in html
    assert "maple-thread" not in html


def test_page_speaks_the_language_the_invitation_was_sent_in(client, branded_chat):
    # given: the invitation went to a German-speaking shopper; the browser prefers French
    assert branded_chat.language == "de"

    # when
    response = client.get(f"/verify/{branded_chat.verification_code}", HTTP_ACCEPT_LANGUAGE="fr")

    # then
    assert "Diese Einladung ist echt" in response.content.decode()


def test_page_without_a_known_language_follows_the_browser(client, branded_chat):
    # given: an invitation from before languages were recorded
    Invitation.objects.filter(pk=branded_chat.pk).update(language="")

    # when: an unshipped ?lang= is ignored
    response = client.get(
        f"/verify/{branded_chat.verification_code}?lang=xx", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9"
    )

    # then
    assert "Esta invitación es auténtica" in response.content.decode()
    assert response["Content-Language"] == "es"


def test_page_for_an_unknown_code_speaks_the_browsers_language(client, branded_chat):
    # when
    response = client.get("/verify/ABCDEFGH", HTTP_ACCEPT_LANGUAGE="de")

    # then
    assert response.status_code == 404
    assert "Diesen Code kennen wir nicht" in response.content.decode()


def test_page_shows_no_offer_the_shopper_never_saw(client, branded_chat):
    # given: the offer is still waiting for a supervisor's approval
    Offer.objects.filter(conversation=branded_chat.conversation).update(
        status=OfferStatus.PENDING_APPROVAL
    )

    # when
    html = client.get(f"/verify/{branded_chat.verification_code}?lang=en").content.decode()

    # then
    assert "Offers made in this chat" not in html
    assert "9.90" not in html


def test_page_says_when_to_try_again_in_the_shoppers_language(client, db, monkeypatch):
    # given: the look-up budget is spent
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"verification": "1/min"})
    client.get("/verify/ABCDEFGH")

    # when
    response = client.get("/verify/ABCDEFGH?lang=fr")

    # then
    assert response.status_code == 429
    html = response.content.decode()
    assert (
        "Trop de codes ont été vérifiés depuis votre adresse. Réessayez dans 60 secondes." in html
    )
    assert response["Retry-After"] == "60"
