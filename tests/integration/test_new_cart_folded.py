"""A cart created by a single-cart request is inserted with its events folded in, its
stall deadline and its link already set (ADR 0028): no UPDATE follows, and what is
stored is exactly what folding the same events into the created cart gives, the path
every other cart takes (a request for several carts, or a cart that existed)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cartassist.api.serializers import validate_events
from cartassist.carts.services.ingest import EventsRefused, cart_events_ingest
from cartassist.domain.cart_state import CART_STATE_FIELDS
from cartassist.models import Cart, CartEvent, EventSource, EventType, ShopperIdentity, Site
from tests.fixtures.carts import iso, make_event
from tests.fixtures.sites import make_site, make_stall_rules

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TYPES = list(EventType.values)  # every type, each with make_event's data


def ingest(site: Site, events: list[dict[str, Any]], *, trusted: bool) -> str:
    """``"ok"`` or ``"refused"``; nothing is stored when refused."""
    now = timezone.now()
    valid = validate_events(events, site=site, trusted=trusted, now=now)
    source = EventSource.SERVER if trusted else EventSource.WIDGET
    try:
        cart_events_ingest(site=site, events=valid, source=source, now=now)
    except EventsRefused:
        return "refused"
    return "ok"


def stored(site: Site, cart: str) -> tuple[Any, ...] | None:
    """The cart's state, deadline and link, and its events (type, applied), or None."""
    found = Cart.objects.filter(site=site, external_id=cart).first()
    if found is None:
        return None
    events = CartEvent.objects.filter(cart=found).order_by("occurred_at", "type", "applied")
    return (
        tuple(getattr(found, name) for name in CART_STATE_FIELDS),
        found.stall_deadline,
        found.identities_linked,
        [(e.type, e.applied) for e in events],
    )


def random_events(
    rng: random.Random, cart: str, visitor: str, *, trusted: bool
) -> list[dict[str, Any]]:
    """One to four events of one cart, in any order of time, some in another currency;
    signed ones sometimes with a customer id."""
    start = timezone.now() - timedelta(minutes=30)
    events = []
    for n in range(rng.randint(1, 4)):
        kind = rng.choice(TYPES)
        values: dict[str, Any] = {
            "id": f"{cart}-{n}",
            "cart_id": cart,
            "visitor_id": visitor,
            "occurred_at": iso(start + timedelta(minutes=rng.randint(0, 20))),
        }
        event = make_event(kind, **values)
        if kind in ("cart_updated", "shipping_quoted", "order_completed") and rng.random() < 0.2:
            event["data"] = {**event["data"], "currency": "USD"}
        if trusted and rng.random() < 0.3:
            event["customer_id"] = f"cust-{visitor}"
        events.append(event)
    return events


def test_a_new_carts_request_is_one_statement_and_a_commit(postgres: None) -> None:
    # given
    site = make_site()
    make_stall_rules(site)

    def two_events(cart: str, visitor: str) -> list[dict[str, Any]]:
        return [
            make_event("cart_updated", cart_id=cart, visitor_id=visitor),
            make_event("checkout_step", cart_id=cart, visitor_id=visitor),
        ]

    ingest(site, two_events("warm", "v0"), trusted=False)  # the statement prepared
    events = two_events("c1", "v1")
    # when
    with CaptureQueriesContext(connection) as queries:
        ingest(site, events, trusted=False)
    # then: the cart's statement, then Django's COMMIT; the cart folded, due, linked
    sent = [q["sql"] for q in queries.captured_queries]
    assert [sql.split(" (")[0].split("_")[0] for sql in sent] == [
        "BEGIN",  # Django's record of its transaction (sent with the statement)
        "BEGIN; EXECUTE cartassist",
        "COMMIT",
    ]
    cart = Cart.objects.get(site=site, external_id="c1")
    assert (cart.stage, cart.subtotal, cart.identities_linked) == ("shipping", 60, True)
    assert cart.stall_deadline is not None
    assert ShopperIdentity.objects.get(site=site, value="v1").shopper_id == cart.pk


def test_a_new_cart_stores_what_the_fold_after_the_statement_stores(postgres: None) -> None:
    # given: two sites with the same stall rules; one visitor known on both
    alone, together = make_site(name="Alone"), make_site(name="Together")
    for site in (alone, together):
        make_stall_rules(site)
        ingest(site, [make_event(cart_id="known-cart", visitor_id="v-known")], trusted=False)
    rng = random.Random(20261205)
    for round_ in range(40):
        cart, visitor = f"c{round_}", rng.choice([f"v{round_}", "v-known"])
        trusted = rng.random() < 0.5
        events = random_events(rng, cart, visitor, trusted=trusted)
        other = make_event(cart_id=f"other{round_}", visitor_id=f"o{round_}", id=f"o{round_}")
        # when: the cart's events alone (created folded by the one statement) and the
        # same events beside another cart's (created, then folded after the statement)
        outcome_alone = ingest(alone, events, trusted=trusted)
        outcome_together = ingest(together, [*events, other], trusted=trusted)
        # then: the same outcome, cart, deadline, link and events
        assert outcome_alone == outcome_together, (round_, events)
        assert stored(alone, cart) == stored(together, cart), (round_, events)
    linked = Cart.objects.filter(site=alone, identities_linked=True).count()
    assert linked > 20  # most rounds stored a cart (some were refused)


def test_an_events_site_is_its_carts_and_goes_with_the_site(postgres: None) -> None:
    # given: events of two sites, stored singly and in batches (the event's site has no
    # constraint of its own: its cart's foreign key holds it, ADR 0028)
    kept, deleted = make_site(name="Kept"), make_site(name="Deleted")
    for site in (kept, deleted):
        make_stall_rules(site)
        ingest(site, [make_event(cart_id="a", visitor_id="va")], trusted=False)
        ingest(
            site,
            [make_event(cart_id="b", visitor_id="vb"), make_event(cart_id="c", visitor_id="vc")],
            trusted=False,
        )
    # then: every event's site is its cart's
    mismatched = CartEvent.objects.exclude(site_id=models.F("cart__site_id"))
    assert CartEvent.objects.count() == 6
    assert not mismatched.exists()
    # when: a site is deleted
    deleted.delete()
    # then: its carts and events went with it, the other site's stayed
    assert set(CartEvent.objects.values_list("site_id", flat=True)) == {kept.pk}
    assert not Cart.objects.filter(site_id=deleted.pk).exists()
