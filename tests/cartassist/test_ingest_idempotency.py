"""An event id is stored once per site; the response says which events were duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cartassist.models import Cart, CartEvent, EventSource
from tests.fixtures.carts import EventPoster, iso, make_event
from tests.fixtures.sites import make_site

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen(time_machine: Any) -> None:
    time_machine.move_to(NOW, tick=False)


def updated(event_id: str, subtotal: str, *, minutes_ago: int = 1) -> dict[str, Any]:
    return make_event(
        id=event_id,
        occurred_at=iso(NOW - timedelta(minutes=minutes_ago)),
        data={"currency": "EUR", "subtotal": subtotal, "lines": []},
    )


def test_the_same_id_twice_in_one_batch_is_stored_once(post_events, site):
    # given: the widget retried inside one batch; the first copy counts
    batch = [updated("evt-1", "60.00"), updated("evt-1", "80.00")]
    # when
    response = post_events.widget(batch)
    # then
    assert response.status_code == 200
    assert response.json() == {"stored": ["evt-1"], "duplicates": ["evt-1"]}
    assert CartEvent.objects.count() == 1
    assert Cart.objects.get().subtotal == Decimal("60.00")


def test_the_same_id_in_a_later_batch_is_a_duplicate_and_changes_nothing(post_events, site):
    # given
    assert post_events.widget([updated("evt-1", "60.00", minutes_ago=2)]).status_code == 200
    cart_before = Cart.objects.values().get()
    event_before = CartEvent.objects.values().get()
    # when: the same id again, even with other (newer) content
    response = post_events.widget([updated("evt-1", "80.00", minutes_ago=1)])
    # then
    assert response.status_code == 200
    assert response.json() == {"stored": [], "duplicates": ["evt-1"]}
    assert Cart.objects.values().get() == cart_before
    assert CartEvent.objects.values().get() == event_before


def test_a_batch_mixing_new_and_known_events_stores_only_the_new(post_events, site):
    # given
    assert post_events.widget([updated("evt-1", "60.00", minutes_ago=3)]).status_code == 200
    batch = [
        updated("evt-1", "60.00", minutes_ago=3),
        updated("evt-2", "70.00", minutes_ago=2),
        updated("evt-2", "70.00", minutes_ago=2),
        updated("evt-3", "75.00", minutes_ago=1),
    ]
    # when
    response = post_events.widget(batch)
    # then: every event of the request is accounted for exactly once
    assert response.status_code == 200
    assert response.json() == {"stored": ["evt-2", "evt-3"], "duplicates": ["evt-2", "evt-1"]}
    assert sorted(CartEvent.objects.values_list("event_id", flat=True)) == [
        "evt-1",
        "evt-2",
        "evt-3",
    ]
    assert Cart.objects.get().subtotal == Decimal("75.00")


def test_an_id_first_seen_from_the_widget_is_a_duplicate_from_the_server(post_events, site):
    # given
    assert post_events.widget([updated("evt-1", "60.00")]).status_code == 200
    # when
    response = post_events.server([updated("evt-1", "99.00")])
    # then
    assert response.status_code == 200
    assert response.json() == {"stored": [], "duplicates": ["evt-1"]}
    assert CartEvent.objects.get().source == EventSource.WIDGET
    assert Cart.objects.get().subtotal == Decimal("60.00")


def test_event_ids_are_unique_per_site_not_globally(client, post_events, site):
    # given: two shops whose clients happen to generate the same id
    other = EventPoster(client, make_site(name="Other"))
    assert post_events.widget([updated("evt-1", "60.00")]).status_code == 200
    # when
    response = other.widget([updated("evt-1", "80.00")])
    # then
    assert response.status_code == 200
    assert response.json() == {"stored": ["evt-1"], "duplicates": []}
    assert sorted(Cart.objects.values_list("subtotal", flat=True)) == [
        Decimal("60.00"),
        Decimal("80.00"),
    ]


def test_stored_ids_are_listed_in_the_order_they_were_applied(post_events, site):
    # given: sent newest first; applied oldest first
    batch = [updated("evt-new", "80.00", minutes_ago=1), updated("evt-old", "60.00", minutes_ago=2)]
    # when
    response = post_events.widget(batch)
    # then
    assert response.json() == {"stored": ["evt-old", "evt-new"], "duplicates": []}
    assert Cart.objects.get().subtotal == Decimal("80.00")


def test_replaying_a_whole_session_twice_stores_each_event_once(post_events, site):
    # given: a browser that lost its acknowledgement and re-sends everything
    session = [
        updated("evt-1", "60.00", minutes_ago=4),
        make_event(
            "checkout_step",
            id="evt-2",
            occurred_at=iso(NOW - timedelta(minutes=3)),
            data={"step": "shipping"},
        ),
        make_event("shipping_quoted", id="evt-3", occurred_at=iso(NOW - timedelta(minutes=2))),
    ]
    assert post_events.widget(session).status_code == 200
    state = Cart.objects.values().get()
    # when
    response = post_events.widget(session)
    # then
    assert response.json() == {"stored": [], "duplicates": ["evt-1", "evt-2", "evt-3"]}
    assert CartEvent.objects.count() == 3
    assert Cart.objects.values().get() == state
