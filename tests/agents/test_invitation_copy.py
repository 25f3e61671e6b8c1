"""Invitation copy in the shopper's language (docs/REALTIME.md, "Invitations in the
shopper's language"): the site's copy in the visitor's language, else in the site's first
language, else the built-in copy translated into the visitor's language."""

from __future__ import annotations

import pytest
from django.utils import timezone

from agents.models import InvitationCopy
from agents.payloads import invitation_payload
from agents.services.invitations import invitation_reach_out, invitations_create
from cartassist.models import StallReason, SuppressionReason, Visitor
from tests.fixtures.agents import (
    make_agent,
    make_intervention,
    make_invitation,
    make_stalled_cart,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def german_first(site):
    """A shop that speaks German first, then English and French."""
    site.languages = ["de", "en", "fr"]
    site.save()
    return site


def copy(site, language: str, headline: str, body: str = "") -> InvitationCopy:
    return InvitationCopy.objects.create(
        site=site,
        stall_reason=StallReason.SHIPPING_SHOCK,
        language=language,
        headline=headline,
        body=body,
    )


def shopper(site, visitor_id: str = "visitor-1", language: str = "") -> Visitor:
    return Visitor.objects.create(site=site, external_id=visitor_id, language=language)


def invite(site, visitor_id: str = "visitor-1"):
    return make_invitation(make_stalled_cart(site, visitor_id=visitor_id))


def test_the_sites_copy_in_the_shoppers_language_is_chosen(german_first):
    # given: copy in German and in English; the shopper reads English
    make_agent(german_first, name="Alex Martin")
    copy(german_first, "de", "Versandkosten zu hoch?", "{agent} hilft.")
    copy(german_first, "en", "Delivery too dear?", "{agent} can help.")
    shopper(german_first, language="en")

    # when
    invitation = invite(german_first)

    # then: in English, naming the agent by first name
    assert (invitation.headline, invitation.body, invitation.language) == (
        "Delivery too dear?",
        "Alex can help.",
        "en",
    )


def test_without_copy_in_the_shoppers_language_the_sites_first_languages_is_chosen(
    german_first,
):
    # given: copy in German only; the shopper reads French
    make_agent(german_first, name="Alex")
    copy(german_first, "de", "Versandkosten zu hoch?", "{agent} hilft.")
    shopper(german_first, language="fr")

    # when
    invitation = invite(german_first)

    # then: the site's own words, in its fallback language
    assert (invitation.headline, invitation.body, invitation.language) == (
        "Versandkosten zu hoch?",
        "Alex hilft.",
        "fr",
    )


def test_without_any_copy_the_built_in_copy_is_translated_into_the_shoppers_language(
    german_first,
):
    # given: no copy at all; the shopper reads French
    make_agent(german_first, name="Alex")
    shopper(german_first, language="fr")

    # when
    invitation = invite(german_first)

    # then
    assert (invitation.headline, invitation.body) == (
        "Des questions sur les frais de livraison ?",
        "Alex peut examiner dès maintenant les options de livraison de votre commande.",
    )


@pytest.mark.parametrize(
    ("language", "headline", "body"),
    [
        (
            "de",
            "Fragen zu den Versandkosten?",
            "Unser Team kann sich jetzt gleich die Versandoptionen für Ihre Bestellung ansehen.",
        ),
        (
            "es",
            "¿Dudas sobre los gastos de envío?",
            "Nuestro equipo puede revisar ahora mismo las opciones de envío de su pedido.",
        ),
        (
            "en",
            "Questions about the delivery charge?",
            "Our team can look at the delivery options for your order right now.",
        ),
    ],
)
def test_without_an_agent_the_built_in_copy_names_the_team_in_the_shoppers_language(
    site, language, headline, body
):
    # given: nobody online; the shopper's language is one of the site's
    site.languages = ["en", "de", "es"]
    site.save()
    shopper(site, language=language)

    # when
    invitation = invite(site)

    # then
    assert (invitation.agent, invitation.headline, invitation.body) == (None, headline, body)


def test_a_shopper_whose_language_is_unknown_gets_the_sites_first_language(german_first):
    # given: the widget never said (no visitor row at all)
    make_agent(german_first, name="Alex")

    # when
    invitation = invite(german_first, visitor_id="never-seen")

    # then
    assert (invitation.language, invitation.headline) == ("de", "Fragen zu den Versandkosten?")


def test_a_language_the_site_no_longer_speaks_falls_back_to_its_first(german_first):
    # given: the shopper was recorded as Spanish; the site has since dropped Spanish
    make_agent(german_first, name="Alex")
    shopper(german_first, language="es")

    # when
    invitation = invite(german_first)

    # then
    assert (invitation.language, invitation.headline) == ("de", "Fragen zu den Versandkosten?")


def test_one_sweep_batch_writes_each_shopper_in_their_own_language(german_first):
    # given: three shoppers, three languages, one batch
    make_agent(german_first, name="Alex")
    copy(german_first, "en", "Delivery too dear?", "{agent} can help.")
    shopper(german_first, "v-en", "en")
    shopper(german_first, "v-fr", "fr")
    interventions = [
        make_intervention(make_stalled_cart(german_first, visitor_id=v))
        for v in ("v-en", "v-fr", "v-none")
    ]

    # when
    invitations = invitations_create(interventions=interventions, now=timezone.now())

    # then
    assert [(i.visitor_id, i.language, i.headline) for i in invitations] == [
        ("v-en", "en", "Delivery too dear?"),
        ("v-fr", "fr", "Des questions sur les frais de livraison ?"),
        ("v-none", "de", "Fragen zu den Versandkosten?"),
    ]


def test_an_agents_reach_out_is_written_in_the_shoppers_language(german_first):
    # given: a stalled cart nobody could invite; the shopper reads English
    ada = make_agent(german_first, name="Ada Lovelace")
    cart = make_stalled_cart(german_first)
    make_intervention(
        cart,
        decision="suppressed",
        suppression_reason=SuppressionReason.NO_AGENT_AVAILABLE,
    )
    shopper(german_first, language="en")

    # when
    invitation = invitation_reach_out(agent=ada, cart_id=cart.pk, now=timezone.now())

    # then
    assert (invitation.language, invitation.body) == (
        "en",
        "Ada can look at the delivery options for your order right now.",
    )


def test_the_invitation_frame_carries_its_language_and_the_agent_as_shoppers_see_them(
    german_first,
):
    # given
    agent = make_agent(german_first, name="Alex Martin")
    agent.photo_url = "https://shop.example/alex.jpg"
    agent.save()

    # when
    payload = invitation_payload(invite(german_first))

    # then
    assert (payload["language"], payload["agent_name"], payload["agent"]) == (
        "de",
        "Alex Martin",
        {"first_name": "Alex", "photo_url": "https://shop.example/alex.jpg"},
    )
