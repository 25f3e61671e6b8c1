"""Concurrent ingestion on PostgreSQL: the unique event id and the cart row lock."""

from __future__ import annotations

import copy
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

import cartassist.carts.locks as locks_module
from cartassist.api.serializers import validate_events
from cartassist.carts.services.ingest import IngestResult, cart_events_ingest
from cartassist.models import Cart, CartEvent, EventSource, Site
from tests.fixtures.carts import iso, make_event
from tests.fixtures.races import hold_before_first_write
from tests.fixtures.sites import make_site, make_stall_rules

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 6


@pytest.fixture
def all_checked_before_any_stores(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Holds every ingesting thread just before its first write until all threads got
    there, so they all race to store the same ids (the interleaving the unique constraint
    and the row lock exist for). Returns the list of threads that reached the hold, to
    prove it was in the path."""
    return hold_before_first_write(monkeypatch, threading.Barrier(THREADS))


def ingest_concurrently(site: Site, batches: list[list[dict[str, Any]]]) -> list[IngestResult]:
    """Ingest each batch on its own thread (and DB connection), all at once."""
    results: list[IngestResult] = []
    errors: list[BaseException] = []
    now = timezone.now()

    def worker(events: list[dict[str, Any]]) -> None:
        try:
            fresh_site = Site.objects.get(pk=site.pk)
            results.append(
                cart_events_ingest(
                    site=fresh_site, events=events, source=EventSource.WIDGET, now=now
                )
            )
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
    return results


def subtotal_event(
    start: datetime, event_id: str, cart: str, second: int, **more: Any
) -> dict[str, Any]:
    """A ``cart_updated`` of ``cart`` at ``start`` + ``second`` s, its subtotal ``second``."""
    return make_event(
        "cart_updated",
        id=event_id,
        cart_id=cart,
        occurred_at=iso(start + timedelta(seconds=second)),
        data={"currency": "EUR", "subtotal": f"{second}.00", "lines": []},
        **more,
    )


def validated(site: Site, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return validate_events(events, site=site, trusted=False, now=timezone.now())


def test_same_event_from_many_threads_is_stored_once(
    postgres: None, all_checked_before_any_stores: list[int]
) -> None:
    # given
    site = make_site()
    make_stall_rules(site)
    events = validated(site, [make_event("cart_updated", id="evt-race")])
    # when
    results = ingest_concurrently(site, [copy.deepcopy(events) for _ in range(THREADS)])
    # then
    assert len(all_checked_before_any_stores) == THREADS
    assert sorted((r.stored, r.duplicates) for r in results) == [([], ["evt-race"])] * (
        THREADS - 1
    ) + [(["evt-race"], [])]
    assert list(CartEvent.objects.values_list("event_id", flat=True)) == ["evt-race"]
    assert Cart.objects.count() == 1


def test_distinct_events_for_one_new_cart_from_many_threads_make_one_cart(
    postgres: None, all_checked_before_any_stores: list[int]
) -> None:
    # given: each thread brings the new cart a different subtotal, a second apart
    site = make_site()
    make_stall_rules(site)
    start = timezone.now() - timedelta(minutes=5)
    batches = [
        validated(
            site,
            [
                make_event(
                    "cart_updated",
                    id=f"evt-{i}",
                    occurred_at=iso(start + timedelta(seconds=i)),
                    data={"currency": "EUR", "subtotal": f"{10 + i}.00", "lines": []},
                )
            ],
        )
        for i in range(THREADS)
    ]
    # when
    results = ingest_concurrently(site, batches)
    # then: one cart, every event stored once, the newest event's state wins
    assert len(all_checked_before_any_stores) == THREADS
    assert sorted(event_id for r in results for event_id in r.stored) == [
        f"evt-{i}" for i in range(THREADS)
    ]
    assert all(r.duplicates == [] for r in results)
    cart = Cart.objects.get()
    assert cart.subtotal == Decimal(10 + THREADS - 1)
    assert cart.state_at == start + timedelta(seconds=THREADS - 1)
    assert CartEvent.objects.filter(cart=cart).count() == THREADS


@pytest.mark.parametrize("carts", [["cart-a"], ["cart-a", "cart-b"]], ids=["one-cart", "two-carts"])
def test_batches_sharing_events_from_many_threads_store_each_event_once(
    postgres: None, all_checked_before_any_stores: list[int], carts: list[str]
) -> None:
    # given: every batch carries the shared events (one of them twice) and one of its own
    site = make_site()
    make_stall_rules(site)
    start = timezone.now() - timedelta(minutes=5)

    def cart_event(event_id: str, cart: str, second: int) -> dict[str, Any]:
        return subtotal_event(start, event_id, cart, second)

    shared = [cart_event(f"shared-{c}", c, 1) for c in carts]
    batches = [
        validated(site, [*shared, shared[0], cart_event(f"own-{i}", carts[i % len(carts)], 2 + i)])
        for i in range(THREADS)
    ]
    # when
    results = ingest_concurrently(site, batches)
    # then: each shared event stored by one thread and a duplicate for the others
    assert len(all_checked_before_any_stores) == THREADS
    stored = sorted(event_id for r in results for event_id in r.stored)
    assert stored == sorted([f"shared-{c}" for c in carts] + [f"own-{i}" for i in range(THREADS)])
    assert sorted(CartEvent.objects.values_list("event_id", flat=True)) == stored
    for result in results:
        own = [e for e in result.stored if e.startswith("own-")]
        assert len(own) == 1
        assert sorted(result.stored + result.duplicates) == sorted(
            [f"shared-{c}" for c in carts] + ["shared-" + carts[0]] + own
        )
    # every cart's state is its newest event's, and only its events were applied once
    for cart in Cart.objects.filter(site=site):
        newest = max(i for i in range(THREADS) if carts[i % len(carts)] == cart.external_id)
        assert cart.subtotal == Decimal(2 + newest)
        assert CartEvent.objects.filter(cart=cart).count() == 1 + sum(
            1 for i in range(THREADS) if carts[i % len(carts)] == cart.external_id
        )


def test_a_cart_created_by_another_transaction_after_the_lock_restarts_the_batch(
    postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a batch for an existing cart and a new one; after the batch has locked the
    # existing cart and before it inserts the new one, another transaction creates the
    # new cart (with an event of its own) and commits
    site = make_site()
    make_stall_rules(site)
    start = timezone.now() - timedelta(minutes=5)

    def updated(event_id: str, cart: str, second: int) -> dict[str, Any]:
        return subtotal_event(start, event_id, cart, second, visitor_id=f"v-{cart}")

    cart_events_ingest(
        site=site,
        events=validated(site, [updated("old-1", "cart-old", 1)]),
        source=EventSource.WIDGET,
        now=timezone.now(),
    )
    inserts: list[list[str]] = []
    insert = locks_module._insert_missing_postgresql

    def other_transaction_first(cursor: Any, missing: Any, *args: Any) -> Any:
        inserts.append([cart.external_id for cart in missing.new])
        if len(inserts) == 1:
            ingest_concurrently(site, [validated(site, [updated("other-1", "cart-new", 2)])])
        return insert(cursor, missing, *args)

    monkeypatch.setattr(locks_module, "_insert_missing_postgresql", other_transaction_first)
    locked: list[list[str]] = []
    lock = locks_module._carts_lock

    def recorded_lock(*args: Any) -> dict[str, Cart]:
        found = lock(*args)
        locked.append(sorted(found))
        return found

    monkeypatch.setattr(locks_module, "_carts_lock", recorded_lock)
    batch = [updated("mine-1", "cart-old", 3), updated("mine-2", "cart-new", 4)]
    # when
    result = cart_events_ingest(
        site=site, events=validated(site, batch), source=EventSource.WIDGET, now=timezone.now()
    )
    # then: the first attempt's insert stored nothing for the cart created meanwhile and
    # was rolled back; the second found both carts and locked them (no insert at all)
    assert inserts == [["cart-new"], []]
    # never a lock out of id order: the restart locks both carts in one statement
    assert locked == [["cart-old"], ["cart-new", "cart-old"]]
    assert sorted(result.stored) == ["mine-1", "mine-2"]
    assert result.duplicates == []
    carts = {cart.external_id: cart for cart in Cart.objects.filter(site=site)}
    assert sorted(carts) == ["cart-new", "cart-old"]
    assert carts["cart-new"].subtotal == Decimal(4)  # the newest event, applied once
    assert carts["cart-old"].subtotal == Decimal(3)
    assert sorted(
        CartEvent.objects.filter(cart=carts["cart-new"]).values_list("event_id", flat=True)
    ) == ["mine-2", "other-1"]
