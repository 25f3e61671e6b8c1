"""Shoppers kept at ingestion (services/shoppers.py, ADR 0008) and the data migration that
links the carts stored before."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from cartassist.models import Cart, CartEvent, ShopperIdentity, Site
from tests.fixtures.carts import iso, make_event
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def shoppers(site: Site) -> dict[str, int]:
    return {
        f"{kind}:{value}": shopper
        for kind, value, shopper in ShopperIdentity.objects.filter(site=site).values_list(
            "kind", "value", "shopper_id"
        )
    }


def cart_pk(external_id: str) -> int:
    return Cart.objects.get(external_id=external_id).pk


def updated(cart: str, visitor: str, customer: str = "", **extra: Any) -> dict[str, Any]:
    event = make_event("cart_updated", cart_id=cart, visitor_id=visitor, **extra)
    if customer:
        event["customer_id"] = customer
    return event


def test_ingestion_numbers_a_chain_of_carts_by_its_smallest_cart(post_events, site):
    # given / when: c1 (A, X) and c4 (C, Y), then c2 (B, X), then c3 (B, Y) joins them all
    assert post_events.server([updated("c1", "A", "X"), updated("c4", "C", "Y")]).status_code == 200
    assert post_events.server([updated("c2", "B", "X")]).status_code == 200
    assert shoppers(site) == {
        "visitor:A": cart_pk("c1"),
        "customer:X": cart_pk("c1"),
        "visitor:B": cart_pk("c1"),
        "visitor:C": cart_pk("c4"),
        "customer:Y": cart_pk("c4"),
    }
    assert post_events.server([updated("c3", "B", "Y")]).status_code == 200
    # then: one shopper, numbered by its smallest cart
    assert set(shoppers(site).values()) == {cart_pk("c1")}
    assert len(shoppers(site)) == 5


def test_a_customer_id_the_cart_had_before_still_links(post_events, site):
    # given: cart c1 was customer X's, then customer Y logged in on it
    assert post_events.server([updated("c1", "A", "X")]).status_code == 200
    assert post_events.server([updated("c1", "A", "Y")]).status_code == 200
    # when: X shops on another device
    assert post_events.server([updated("c2", "B", "X")]).status_code == 200
    # then: links are never undone: one shopper
    assert set(shoppers(site).values()) == {cart_pk("c1")}


def test_another_site_with_the_same_ids_is_another_shopper(post_events, site):
    other = make_site(name="Other")
    Cart.objects.create(
        site=other,
        external_id="c9",
        visitor_id="A",
        currency="EUR",
        state_at=timezone.now(),
        last_activity_at=timezone.now(),
    )
    assert post_events.server([updated("c1", "A")]).status_code == 200
    assert shoppers(site) == {"visitor:A": cart_pk("c1")}
    assert shoppers(other) == {}


def test_an_event_that_links_two_shoppers_refreshes_their_outcomes(
    post_events, site, django_capture_on_commit_callbacks
):
    from cartassist.models import Intervention
    from tests.fixtures.agents import make_intervention

    # given: an intervention on A's cart, and B's order (customer Y) an hour later, which
    # is nobody's yet
    now = timezone.now()
    assert (
        post_events.server([updated("c1", "A", occurred_at=iso(now - 3 * HOUR))]).status_code == 200
    )
    intervention = make_intervention(Cart.objects.get(external_id="c1"), now=now - 2 * HOUR)
    order = make_event(
        "order_completed",
        cart_id="c3",
        visitor_id="B",
        customer_id="Y",
        occurred_at=iso(now - HOUR),
        data={"order_id": "o-1", "currency": "EUR", "total": "40.00"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_events.server([order]).status_code == 200
    assert Intervention.objects.get(pk=intervention.pk).converted is False
    # when: customer Y logs in on A's browser: the two shoppers become one
    with django_capture_on_commit_callbacks(execute=True):
        response = post_events.server([updated("c2", "A", "Y", occurred_at=iso(now))])
    assert response.status_code == 200
    # then: the order is credited at once, as a same-shopper conversion
    outcome = Intervention.objects.get(pk=intervention.pk)
    assert (outcome.converted, outcome.order_id, outcome.revenue, outcome.attribution) == (
        True,
        "o-1",
        Decimal("40.00"),
        "same_shopper",
    )


def test_the_data_migration_links_the_carts_stored_before(site):
    # given: carts stored before shoppers were kept (no identity rows), one of which had
    # customer X in an earlier event and customer Y now
    now = timezone.now()

    def cart(external_id: str, visitor: str, customer: str = "") -> Cart:
        return Cart.objects.create(
            site=site,
            external_id=external_id,
            visitor_id=visitor,
            customer_id=customer,
            currency="EUR",
            state_at=now,
            last_activity_at=now,
        )

    c1 = cart("c1", "A", "Y")
    c2 = cart("c2", "B", "X")
    c3 = cart("c3", "C")
    CartEvent.objects.create(
        site=site,
        cart=c1,
        event_id="old-1",
        type="cart_updated",
        source="server",
        visitor_id="A",
        customer_id="X",
        occurred_at=now,
        received_at=now,
    )
    assert not ShopperIdentity.objects.exists()
    migration = importlib.import_module("cartassist.migrations.0006_shopper_identities")
    # when
    migration.link_existing_carts(apps, None)
    migration.link_existing_carts(apps, None)  # and again: nothing more
    # then
    assert shoppers(site) == {
        "visitor:A": c1.pk,
        "customer:Y": c1.pk,
        "customer:X": c1.pk,
        "visitor:B": c1.pk,
        "visitor:C": c3.pk,
    }
    assert c2.pk > c1.pk


def test_a_chat_from_any_browser_of_the_shopper_is_a_follow_up(post_events, site):
    from agents.models import Conversation
    from cartassist.outcomes.services.followups import follow_up_record_chat
    from tests.fixtures.agents import make_intervention

    # given: an outreach on A's cart; A, B and C are one shopper through X and Y
    now = timezone.now()
    chain = [updated("c1", "A", "X"), updated("c2", "B", "X"), updated("c3", "B", "Y")]
    assert post_events.server([*chain, updated("c4", "C", "Y")]).status_code == 200
    intervention = make_intervention(Cart.objects.get(external_id="c1"), now=now - HOUR)
    # when: the shopper starts a chat from browser C
    conversation = Conversation.objects.create(
        site=site,
        visitor_id="C",
        status="queued",
        urgency=50,
        cart_value=0,
        created_at=now,
        visitor_last_seen_at=now,
    )
    contact = follow_up_record_chat(conversation=conversation, now=now)
    # then
    assert contact is not None
    assert contact.intervention_id == intervention.pk
