"""A cart created by a request is inserted with its events folded in, its stall
deadline and its link already set (ADR 0028 for a single-cart request, ADR 0029 for the
missing carts of a batch): no UPDATE follows, and what is stored is exactly what folding
the same events into the created cart after the statement gives, the path a cart that
existed takes."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import cartassist.carts.services.ingest as ingest_module
from cartassist.api.serializers import validate_events
from cartassist.carts.locks import new_cart
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


def test_a_new_batchs_carts_are_inserted_folded_and_not_updated(postgres: None) -> None:
    # given: a batch for two new carts of new visitors, and one for an existing cart
    site = make_site()
    make_stall_rules(site)
    ingest(site, [make_event(cart_id="old", visitor_id="v-old", id="warm")], trusted=False)
    batch = [
        make_event("cart_updated", cart_id=cart, visitor_id=f"v-{cart}", id=f"{cart}-{step}")
        if step == 0
        else make_event("checkout_step", cart_id=cart, visitor_id=f"v-{cart}", id=f"{cart}-1")
        for cart in ("n1", "n2")
        for step in (0, 1)
    ]
    # when
    with CaptureQueriesContext(connection) as queries:
        ingest(site, batch, trusted=False)
    # then: the lock, the carts' insert, the events' insert, and a bare COMMIT
    sent = [q["sql"].split(" ")[0] for q in queries.captured_queries]
    assert sent == ["BEGIN", "SELECT", "WITH", "INSERT", "COMMIT"]
    for cart_id in ("n1", "n2"):
        cart = Cart.objects.get(site=site, external_id=cart_id)
        assert (cart.stage, cart.subtotal, cart.identities_linked) == ("shipping", 60, True)
        assert cart.stall_deadline is not None
        assert ShopperIdentity.objects.get(site=site, value=f"v-{cart_id}").shopper_id == cart.pk
    # and a batch of carts that all exist: the lock, the events, the UPDATE with the COMMIT
    again = [make_event("checkout_step", cart_id=c, visitor_id=f"v-{c}") for c in ("n1", "n2")]
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [{**e, "data": {"step": "payment"}} for e in again], trusted=False)
    sent = [q["sql"] for q in queries.captured_queries]
    assert not any('INSERT INTO "cartassist_cart"' in sql for sql in sent)
    (update,) = [sql for sql in sent if sql.startswith("EXECUTE cartassist_ingest_carts")]
    assert update.endswith("; COMMIT")
    assert set(Cart.objects.filter(site=site).values_list("stage", flat=True)) >= {"payment"}


def folded_after(site: Site, first: dict[str, Any], *args: Any, now: Any, **kwargs: Any) -> Any:
    """``_new_carts_folded`` refusing to guess: the carts inserted as their first events
    make them, and the fold after the statement decides (the path of an existing cart)."""
    return {cart_id: new_cart(site, event, now) for cart_id, event in first.items()}, {}


def test_a_new_cart_stores_what_the_fold_after_the_statement_stores(
    postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: three sites with the same stall rules; one visitor known on each
    alone, together, after = (make_site(name=name) for name in ("Alone", "Together", "After"))
    for site in (alone, together, after):
        make_stall_rules(site)
        ingest(site, [make_event(cart_id="known-cart", visitor_id="v-known")], trusted=False)
    rng = random.Random(20261205)
    for round_ in range(40):
        cart, visitor = f"c{round_}", rng.choice([f"v{round_}", "v-known"])
        trusted = rng.random() < 0.5
        events = random_events(rng, cart, visitor, trusted=trusted)
        other = make_event(cart_id=f"other{round_}", visitor_id=f"o{round_}", id=f"o{round_}")
        # when: the cart's events alone (created folded by the one statement), the same
        # events beside another cart's (a batch: created folded by the missing carts'
        # insert), and that batch with nothing folded before (folded after the insert)
        outcome_alone = ingest(alone, events, trusted=trusted)
        outcome_together = ingest(together, [*events, other], trusted=trusted)
        with monkeypatch.context() as patched:
            patched.setattr(ingest_module, "_new_carts_folded", folded_after)
            outcome_after = ingest(after, [*events, other], trusted=trusted)
        # then: the same outcome, cart, deadline, link and events
        assert outcome_alone == outcome_together == outcome_after, (round_, events)
        assert stored(alone, cart) == stored(together, cart) == stored(after, cart), (
            round_,
            events,
        )
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
