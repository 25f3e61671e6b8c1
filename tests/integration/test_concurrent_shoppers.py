"""Concurrent ingests that link shoppers converge on PostgreSQL (ADR 0008).

Two ingests that each merge two shoppers sharing one (B's, through different identities)
both read the shoppers before either writes. Without the site's shopper lock, the second
``UPDATE … WHERE shopper_id IN (…)`` misses rows the first renumbered and one shopper
ends up with two numbers; with it, every round ends in the transitive grouping.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

import cartassist.carts.services.shoppers as shoppers_module
from cartassist.api.serializers import validate_events
from cartassist.carts.services.ingest import cart_events_ingest
from cartassist.domain.attribution import shopper_groups
from cartassist.models import Cart, EventSource, ShopperIdentity, Site
from tests.fixtures.carts import make_event
from tests.fixtures.sites import make_site, make_stall_rules

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 12


@pytest.fixture
def both_read_before_either_links(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Holds each linking thread (not the test's own) after its unlocked read, until
    both have made it, so both decide from the same stale shoppers. Returns the threads
    that got there, to show the hold was in the path."""
    barrier = threading.Barrier(2)
    reached: list[int] = []
    lock = shoppers_module.shopper_lock

    def hold_then_lock(*, site_id: int) -> None:
        if threading.current_thread() is threading.main_thread():  # the set-up
            lock(site_id=site_id)
            return
        reached.append(threading.get_ident())
        barrier.wait(timeout=30)
        lock(site_id=site_id)

    monkeypatch.setattr(shoppers_module, "shopper_lock", hold_then_lock)
    return reached


def event(cart: str, visitor: str, customer: str) -> dict[str, Any]:
    values = make_event("cart_updated", cart_id=cart, visitor_id=visitor)
    values["customer_id"] = customer
    return values


def ingest(site: Site, events: list[dict[str, Any]]) -> None:
    now = timezone.now()
    valid = validate_events(events, site=site, trusted=True, now=now)
    cart_events_ingest(site=site, events=valid, source=EventSource.SERVER, now=now)


def ingest_together(site: Site, batches: list[list[dict[str, Any]]]) -> None:
    errors: list[BaseException] = []

    def worker(events: list[dict[str, Any]]) -> None:
        try:
            ingest(Site.objects.get(pk=site.pk), events)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "an ingesting thread hung"
    assert errors == []


def test_two_ingests_merging_overlapping_shoppers_at_once_converge(
    postgres: None, both_read_before_either_links: list[int]
) -> None:
    rng = random.Random(9)
    for round_number in range(ROUNDS):
        # given: three shoppers, A, B (with customer X) and C (with customer Y)
        site = make_site(name=f"Shop {round_number}")
        make_stall_rules(site)
        carts = [("a", "A", ""), ("b", "B", "X"), ("c", "C", "Y")]
        rng.shuffle(carts)  # any of them may hold the smallest cart id
        for cart, visitor, customer in carts:
            ingest(site, [event(cart, visitor, customer)] if customer else [_plain(cart, visitor)])
        both_read_before_either_links.clear()
        # when: at once, one new cart links A and X (A+B), another links B and Y (B+C)
        ingest_together(site, [[event("n1", "A", "X")], [event("n2", "B", "Y")]])
        # then: both went through the unlocked read, and there is one shopper, numbered
        # by its smallest cart, as the pure definition says
        assert len(both_read_before_either_links) == 2
        rows = {c.external_id: c for c in Cart.objects.filter(site=site)}
        links = [
            (rows[name].pk, visitor, customer)
            for name, visitor, customer in [*carts, ("n1", "A", "X"), ("n2", "B", "Y")]
        ]
        (expected,) = set(shopper_groups(links).values())
        numbers = set(
            ShopperIdentity.objects.filter(site=site).values_list("shopper_id", flat=True)
        )
        assert numbers == {expected}, f"round {round_number}"
        assert ShopperIdentity.objects.filter(site=site).count() == 5


def _plain(cart: str, visitor: str) -> dict[str, Any]:
    return make_event("cart_updated", cart_id=cart, visitor_id=visitor)
