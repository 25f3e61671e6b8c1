"""An order is credited once, whichever cart a refresh starts from (ADR 0008).

Shoppers are carts linked transitively by visitor id or customer id, however long the
chain: carts c1 (A, X), c2 (B, X), c3 (B, Y), c4 (C, Y) are one shopper. These tests go
through the real ingestion (which keeps the shoppers) and the real outcome refresh.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cartassist.api.serializers import validate_events
from cartassist.carts.services.ingest import cart_events_ingest
from cartassist.domain.attribution import Order, Touch, attribute_orders, shopper_groups
from cartassist.models import Cart, EventSource, Intervention, Site
from cartassist.outcomes.services.outcomes import outcomes_refresh_for_carts
from tests.fixtures.carts import iso, make_event

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
_ids = itertools.count(1)


def event(kind: str, cart: str, visitor: str, customer: str, at: datetime, **data: Any) -> Any:
    values = make_event(kind, id=f"evt-{next(_ids)}", cart_id=cart, visitor_id=visitor)
    values["occurred_at"] = iso(at)
    if customer:
        values["customer_id"] = customer
    if data:
        values["data"] = data
    return values


def ingest(site: Site, events: list[dict[str, Any]], capture: Any, now: datetime) -> None:
    valid = validate_events(events, site=site, trusted=True, now=now)
    with capture(execute=True):  # the refreshes the ingest asks for, on commit
        cart_events_ingest(site=site, events=valid, source=EventSource.SERVER, now=now)


def intervention_on(cart: Cart, decided_at: datetime) -> Intervention:
    """What the sweep records (without touching the cart, which may have converted)."""
    return Intervention.objects.create(
        site_id=cart.site_id,
        cart=cart,
        visitor_id=cart.visitor_id,
        stall_deadline=decided_at - timedelta(minutes=1),
        stage="shipping",
        stall_reason="shipping_shock",
        urgency=50,
        inactivity=timedelta(minutes=10),
        cart_value=cart.subtotal,
        currency=cart.currency,
        decision="invited",
        decided_at=decided_at,
    )


def credits() -> dict[int, tuple[str, Decimal]]:
    return {
        i.pk: (i.order_id, i.revenue)
        for i in Intervention.objects.filter(converted=True).order_by("pk")
    }


def test_a_chain_of_four_carts_credits_the_order_once_from_every_starting_cart(
    site, django_capture_on_commit_callbacks
):
    # given: c1 (A, X), c2 (B, X), c3 (B, Y), c4 (C, Y); interventions on c1 and c4; a
    # 100.00 order on c3
    now = timezone.now()
    chain = [("c1", "A", "X"), ("c2", "B", "X"), ("c3", "B", "Y"), ("c4", "C", "Y")]
    ingest(
        site,
        [event("cart_updated", cart, v, c, now - 5 * HOUR) for cart, v, c in chain],
        django_capture_on_commit_callbacks,
        now,
    )
    carts = {c.external_id: c for c in Cart.objects.all()}
    first = intervention_on(carts["c1"], now - 4 * HOUR)
    last = intervention_on(carts["c4"], now - 3 * HOUR)
    order = event(
        "order_completed", "c3", "B", "Y", now - HOUR, order_id="o-1", currency="EUR", total="100"
    )
    ingest(site, [order], django_capture_on_commit_callbacks, now)
    expected = {last.pk: ("o-1", Decimal("100.00"))}  # the most recent of the two
    assert credits() == expected
    # when / then: a refresh from any cart, in any order, credits it once, to the same one
    for name in ["c1", "c4", "c2", "c3", "c1", "c4"]:
        outcomes_refresh_for_carts(cart_ids=[carts[name].pk], now=now)
        assert credits() == expected, f"after a refresh from {name}"
    assert sum(i.revenue for i in Intervention.objects.all()) == Decimal("100.00")
    assert Intervention.objects.get(pk=first.pk).converted is False


# --- the property --------------------------------------------------------------------

VISITORS = ["A", "B", "C", "D"]
CUSTOMERS = ["", "X", "Y", "Z"]

carts_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "visitor": st.sampled_from(VISITORS),
            "customers": st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=2),
            "intervened": st.booleans(),
            "ordered": st.booleans(),
            "total": st.sampled_from(["10.00", "25.50", "99.99", "100.00"]),
        }
    ),
    min_size=2,
    max_size=6,
)


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    carts = draw(carts_strategy)
    events = []  # (cart index, kind, customer)
    for index, cart in enumerate(carts):
        events.extend((index, "cart_updated", customer) for customer in cart["customers"])
        if cart["ordered"]:
            events.append((index, "order_completed", cart["customers"][-1]))
    order = draw(st.permutations(events))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=3)))
    batches = [list(order[a:b]) for a, b in itertools.pairwise([0, *cuts, len(order)])]
    refreshes = draw(st.lists(st.integers(0, len(carts) - 1), min_size=1, max_size=8))
    return {"carts": carts, "batches": [b for b in batches if b], "refreshes": refreshes}


def oracle(
    carts: list[dict[str, Any]],
    pks: list[int],
    interventions: dict[int, Intervention],
    order_ids: list[str],
) -> dict[int, tuple[str, Decimal]]:
    """The credits by the pure rules over the true shoppers (every link, however far)."""
    links = [
        (pks[i], cart["visitor"], customer)
        for i, cart in enumerate(carts)
        for customer in cart["customers"]
    ]
    group_of = shopper_groups(links)
    expected: dict[int, tuple[str, Decimal]] = {}
    for group in set(group_of.values()):
        members = [i for i, pk in enumerate(pks) if group_of[pk] == group]
        touches = [
            Touch(
                id=interventions[i].pk,
                cart_id=pks[i],
                decided_at=interventions[i].decided_at,
                window=timedelta(hours=24),
                in_experiment=True,
            )
            for i in members
            if i in interventions
        ]
        orders = [
            Order(
                cart_id=pks[i],
                order_id=order_ids[i],
                completed_at=Cart.objects.get(pk=pks[i]).converted_at,
                total=Decimal(carts[i]["total"]),
            )
            for i in members
            if carts[i]["ordered"]
        ]
        for touch_id, credit in attribute_orders(touches, orders).items():
            expected[touch_id] = (credit.order.order_id, credit.order.total)
    return expected


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_attributed_revenue_is_the_sum_of_distinct_orders_whatever_the_refresh_order(
    site, django_capture_on_commit_callbacks, scenario
):
    carts = scenario["carts"]
    # Every shopper has an intervention for each of its orders: then every order is
    # credited, exactly once (each intervention takes at most one order).
    links = [(i, c["visitor"], x) for i, c in enumerate(carts) for x in c["customers"]]
    groups = shopper_groups(links)
    for group in set(groups.values()):
        members = [i for i in range(len(carts)) if groups[i] == group]
        assume(
            sum(carts[i]["intervened"] for i in members)
            >= sum(carts[i]["ordered"] for i in members)
        )
    now = timezone.now()
    run = next(_ids)
    name = [f"r{run}-c{i}" for i in range(len(carts))]
    order_ids = [f"o-{run}-{i}" for i in range(len(carts))]

    with transaction.atomic():
        interventions: dict[int, Intervention] = {}
        for step, batch in enumerate(scenario["batches"]):
            # given: the events arrive in any order, in any batches
            events = []
            for index, kind, customer in batch:
                cart = carts[index]
                if kind == "cart_updated":
                    events.append(
                        event(kind, name[index], cart["visitor"], customer, now - 6 * HOUR)
                    )
                else:
                    events.append(
                        event(
                            kind,
                            name[index],
                            cart["visitor"],
                            customer,
                            now - 2 * HOUR + timedelta(minutes=index),
                            order_id=order_ids[index],
                            currency="EUR",
                            total=cart["total"],
                        )
                    )
            ingest(site, events, django_capture_on_commit_callbacks, now)
            # the sweep decided on each stalled cart before its order
            for index in {index for index, _, _ in batch}:
                if carts[index]["intervened"] and index not in interventions:
                    stored = Cart.objects.get(site=site, external_id=name[index])
                    decided = now - 5 * HOUR + timedelta(minutes=index)
                    interventions[index] = intervention_on(stored, decided)
            ordered = Counter(i.order_id for i in Intervention.objects.filter(converted=True))
            assert all(n == 1 for n in ordered.values()), f"credited twice after batch {step}"
        pks = [Cart.objects.get(site=site, external_id=n).pk for n in name]
        expected = oracle(carts, pks, interventions, order_ids)

        # when: refreshes start from any cart, in any order
        for index in scenario["refreshes"]:
            outcomes_refresh_for_carts(cart_ids=[pks[index]], now=now)
            # then: the whole shopper of that cart is as the rules say, at once
            shopper = {interventions[i].pk for i in interventions if groups[i] == groups[index]}
            got = {k: v for k, v in credits().items() if k in shopper}
            assert got == {k: v for k, v in expected.items() if k in shopper}
            ordered = Counter(i.order_id for i in Intervention.objects.filter(converted=True))
            assert all(n == 1 for n in ordered.values())
        for pk in pks:
            outcomes_refresh_for_carts(cart_ids=[pk], now=now)
        assert credits() == expected
        revenue = sum(i.revenue for i in Intervention.objects.all())
        orders = sum(Decimal(c["total"]) for c in carts if c["ordered"])
        assert revenue == orders
        transaction.set_rollback(True)
