"""A new cart links its visitor in the statement that creates it (ADR 0027), and stays
exact against concurrent ingests that link the same identities under the shopper lock.

The only identity rows written without the site's shopper lock are those of a brand-new
cart whose only identity is a new visitor id. A lock holder that read the identities
before such a row was committed meets it as a conflict when it inserts the same
identity, reads again and links with it.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import cartassist.carts.services.shoppers as shoppers_module
from cartassist.carts.services.shoppers import shoppers_link
from cartassist.domain.attribution import shopper_groups
from cartassist.models import Cart, ShopperIdentity, Site
from tests.fixtures.carts import make_event
from tests.fixtures.races import hold_before_first_write
from tests.fixtures.sites import make_site, make_stall_rules
from tests.integration.test_concurrent_shoppers import ingest, ingest_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 8


def event(cart: str, visitor: str, customer: str = "") -> dict[str, Any]:
    values = make_event("cart_updated", cart_id=cart, visitor_id=visitor)
    if customer:
        values["customer_id"] = customer
    return values


def identities(site: Site) -> dict[tuple[str, str], int]:
    return {
        (kind, value): shopper
        for kind, value, shopper in ShopperIdentity.objects.filter(site=site).values_list(
            "kind", "value", "shopper_id"
        )
    }


def test_a_new_carts_single_event_links_its_visitor_without_the_shopper_lock(
    postgres: None,
) -> None:
    # given
    site = make_site()
    make_stall_rules(site)
    ingest(site, [event("c0", "V0")])  # the session prepares the cart's statement
    # when
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [event("c1", "V1")])
    # then: a shopper of its own, in the cart's statement: no lock, no identity query
    cart = Cart.objects.get(site=site, external_id="c1")
    assert identities(site) == {("visitor", "V0"): cart.pk - 1, ("visitor", "V1"): cart.pk}
    assert cart.identities_linked
    # (the cart stored folded, its event and its identity: one autocommitted statement,
    # with no BEGIN or COMMIT, ADR 0032)
    sent = [q["sql"] for q in queries.captured_queries]
    assert len(sent) == 1, sent
    assert sent[0].startswith("EXECUTE cartassist_ingest_new_")


def test_a_new_cart_of_a_known_visitor_joins_that_shopper(postgres: None) -> None:
    # given: visitor V1's first cart
    site = make_site()
    make_stall_rules(site)
    ingest(site, [event("c1", "V1")])
    first = Cart.objects.get(site=site, external_id="c1")
    # when: a second cart of the same visitor (its identity is stored: the locked path)
    ingest(site, [event("c2", "V1")])
    # then
    assert identities(site) == {("visitor", "V1"): first.pk}
    assert Cart.objects.get(site=site, external_id="c2").identities_linked


def test_a_lock_holder_that_read_before_a_new_carts_identity_links_with_it(
    postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: cart c1 stored visitor V1 → c1 in its own statement (committed), and a cart
    # c2 (larger id) that brings V1 with customer X, whose first locked read missed it
    site = make_site()
    make_stall_rules(site)
    ingest(site, [event("c1", "V1")])
    c1 = Cart.objects.get(site=site, external_id="c1")
    ingest(site, [event("c2", "V2")])
    c2 = Cart.objects.get(site=site, external_id="c2")
    known = shoppers_module._known
    reads: list[int] = []

    def stale_first_locked_read(site_id: int, keys: Any) -> dict[tuple[str, str], int]:
        reads.append(1)
        found = known(site_id, keys)
        if len(reads) == 2:  # the read under the lock: as if before c1's commit
            found.pop(("visitor", "V1"), None)
        return found

    monkeypatch.setattr(shoppers_module, "_known", stale_first_locked_read)
    # when
    merged = shoppers_link(
        site_id=site.pk, carts={c2.pk: {("visitor", "V1"), ("customer", "X"), ("visitor", "V2")}}
    )
    # then: the insert met V1's row, read again, and merged c2's shopper into c1's
    assert len(reads) == 3
    assert merged == [c1.pk]
    assert identities(site) == {
        ("visitor", "V1"): c1.pk,
        ("visitor", "V2"): c1.pk,
        ("customer", "X"): c1.pk,
    }


@pytest.fixture
def all_store_at_once(monkeypatch: pytest.MonkeyPatch) -> threading.Barrier:
    """Holds each ingesting thread before its first write until all got there."""
    barrier = threading.Barrier(5)
    hold_before_first_write(
        monkeypatch,
        barrier,
        held=lambda: threading.current_thread() is not threading.main_thread(),
    )
    return barrier


def test_new_carts_of_one_visitor_and_a_merge_at_once_end_in_one_exact_shopper(
    postgres: None, all_store_at_once: threading.Barrier
) -> None:
    rng = random.Random(27)
    for round_number in range(ROUNDS):
        # given: a shopper with customer X (cart "x")
        site = make_site(name=f"Shop {round_number}")
        make_stall_rules(site)
        ingest(site, [event("x", "VX", "X")])
        # when, at once: new carts of a new visitor V (two single events, a batch of two
        # events for one cart, a batch of three carts, two of V and one of W: all
        # linking in their own statements), and a new cart that links V with X under
        # the shopper lock
        batches = [
            [event("n1", "V")],
            [event("n2", "V")],
            [event("n3", "V"), {**event("n3", "V"), "id": "n3-second"}],
            [event("n4", "V"), event("n5", "V"), event("w", "W")],
            [event("m", "V", "X")],
        ]
        rng.shuffle(batches)
        ingest_together(site, batches)
        # then: V's shopper numbered by its smallest cart, W's its own, all carts linked
        carts = {c.external_id: c for c in Cart.objects.filter(site=site)}
        links = [
            (carts["x"].pk, "VX", "X"),
            *((carts[name].pk, "V", "") for name in ("n1", "n2", "n3", "n4", "n5")),
            (carts["m"].pk, "V", "X"),
            (carts["w"].pk, "W", ""),
        ]
        groups = shopper_groups(links)
        expected = groups[carts["m"].pk]
        assert identities(site) == {
            ("visitor", "VX"): expected,
            ("customer", "X"): expected,
            ("visitor", "V"): expected,
            ("visitor", "W"): carts["w"].pk,
        }, f"round {round_number}"
        assert expected == min(cart.pk for name, cart in carts.items() if name != "w")
        assert all(cart.identities_linked for cart in carts.values())
