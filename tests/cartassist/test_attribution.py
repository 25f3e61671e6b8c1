"""The pure attribution rules (cartassist/domain/attribution.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cartassist.domain.attribution import (
    SAME_CART,
    SAME_SHOPPER,
    Order,
    Touch,
    attribute_contact,
    attribute_orders,
    distinct_orders,
    shopper_groups,
    shopper_links,
)

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY = timedelta(hours=24)


def touch(id: int, cart: int, hours: float, *, experiment: bool = True) -> Touch:
    return Touch(
        id=id,
        cart_id=cart,
        decided_at=T0 + timedelta(hours=hours),
        window=DAY,
        in_experiment=experiment,
    )


def order(cart: int, hours: float, order_id: str = "o1", total: str = "10") -> Order:
    return Order(
        cart_id=cart,
        order_id=order_id,
        completed_at=T0 + timedelta(hours=hours),
        total=Decimal(total),
    )


def test_the_window_is_inclusive_at_both_ends():
    assert set(attribute_orders([touch(1, 1, 0)], [order(1, 0)])) == {1}
    assert set(attribute_orders([touch(1, 1, 0)], [order(1, 24)])) == {1}
    assert attribute_orders([touch(1, 1, 0)], [order(1, 24.001)]) == {}
    assert attribute_orders([touch(1, 1, 0)], [order(1, -0.001)]) == {}


def test_the_same_cart_wins_over_a_later_intervention_on_another_cart():
    credits = attribute_orders([touch(1, 1, 0), touch(2, 2, 5)], [order(1, 6)])
    assert list(credits) == [1]
    assert credits[1].attribution == SAME_CART


def test_two_orders_at_the_same_moment_are_taken_in_order_id_order_whatever_came_first():
    # given two different orders on one cart at the same moment, one intervention
    first, second = order(1, 0, "a", "99.99"), order(1, 0, "b", "99.99")
    # when they arrive in either order
    credits = [
        attribute_orders([touch(1, 1, 0)], orders) for orders in ([first, second], [second, first])
    ]
    # then the intervention takes order "a" both times
    assert [c[1].order.order_id for c in credits] == ["a", "a"]


def test_an_experiment_decision_wins_over_a_suppressed_one():
    credits = attribute_orders([touch(1, 1, 0), touch(2, 2, 5, experiment=False)], [order(3, 6)])
    assert list(credits) == [1]
    assert credits[1].attribution == SAME_SHOPPER


def test_the_most_recent_wins_among_equals():
    credits = attribute_orders([touch(1, 1, 0), touch(2, 2, 5)], [order(3, 6)])
    assert list(credits) == [2]


def test_a_second_order_goes_to_the_next_intervention():
    credits = attribute_orders(
        [touch(1, 1, 0), touch(2, 2, 1)], [order(1, 2, "a"), order(2, 3, "b")]
    )
    assert {k: v.order.order_id for k, v in credits.items()} == {1: "a", 2: "b"}


def test_an_order_id_seen_twice_counts_once_at_its_earliest():
    orders = distinct_orders([order(1, 3, "x", "20"), order(2, 2, "x", "30")])
    assert orders == [order(2, 2, "x", "30")]


def test_contacts_go_to_the_latest_experiment_decision_within_the_window():
    touches = [touch(1, 1, 0), touch(2, 2, 24), touch(3, 3, 30, experiment=False)]
    week = timedelta(days=7)
    assert attribute_contact(touches, contact_at=T0 + DAY * 2, follow_up_window=week) == 2
    assert attribute_contact(touches, contact_at=T0 + DAY * 8.5, follow_up_window=week) is None
    assert attribute_contact(touches, contact_at=T0 - DAY, follow_up_window=week) is None


def test_shopper_groups_follow_visitor_and_customer_ids_transitively():
    groups = shopper_groups(
        [(1, "v1", ""), (2, "v1", "c1"), (3, "v2", "c1"), (4, "v3", ""), (5, "v4", "")]
    )
    assert groups == {1: 1, 2: 1, 3: 1, 4: 4, 5: 5}


def test_an_order_goes_only_to_an_intervention_in_its_currency():
    eur = Touch(id=1, cart_id=1, decided_at=T0, window=DAY, in_experiment=True, currency="EUR")
    usd = Touch(id=2, cart_id=2, decided_at=T0, window=DAY, in_experiment=True, currency="USD")
    order_in_usd = Order(
        cart_id=1, order_id="o1", completed_at=T0 + DAY / 2, total=Decimal(9), currency="USD"
    )
    assert list(attribute_orders([eur], [order_in_usd])) == []
    credits = attribute_orders([eur, usd], [order_in_usd])
    assert (list(credits), credits[2].attribution) == ([2], SAME_SHOPPER)


V, C = "visitor", "customer"


def test_linking_a_new_cart_to_nothing_known_makes_it_a_shopper():
    links = shopper_links([(7, [(V, "a")])], known={})
    assert (links.shopper_of, links.merged) == ({(V, "a"): 7}, {})


def test_a_cart_linking_two_shoppers_merges_them_into_the_smallest():
    # shoppers 1 (visitor a) and 3 (customer y); cart 9 has both
    links = shopper_links([(9, [(V, "a"), (C, "y")])], known={(V, "a"): 1, (C, "y"): 3})
    assert links.shopper_of == {(V, "a"): 1, (C, "y"): 1}
    assert links.merged == {3: 1}


def test_a_smaller_cart_joining_renumbers_its_shopper():
    # two ingests raced: cart 11 linked visitor a first, then cart 10 (same visitor)
    links = shopper_links([(10, [(V, "a")])], known={(V, "a"): 11})
    assert (links.shopper_of, links.merged) == ({(V, "a"): 10}, {11: 10})


def test_carts_of_one_batch_link_through_each_other():
    links = shopper_links(
        [(5, [(V, "a"), (C, "x")]), (6, [(V, "b"), (C, "x")]), (8, [(V, "c")])], known={}
    )
    assert links.shopper_of == {(V, "a"): 5, (C, "x"): 5, (V, "b"): 5, (V, "c"): 8}
    assert links.merged == {}


# A cart keeps the visitor id of its first event; its customer id may change.
visitors_strategy = st.dictionaries(
    st.integers(1, 30), st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=8
)


@given(visitors_strategy, st.data())
def test_linking_one_event_at_a_time_in_any_order_gives_the_transitive_shoppers(visitors, data):
    # Each step links a cart's identities as an ingest does (its visitor id and the
    # customer id of the event), with what earlier steps stored; any order of events
    # ends in the pure definition of shoppers.
    events = data.draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(visitors)), st.sampled_from(["", "x", "y", "z"])),
            min_size=1,
            max_size=12,
        )
    )
    stored: dict[tuple[str, str], int] = {}
    for cart_id, customer in events:
        keys = [(V, visitors[cart_id])] + ([(C, customer)] if customer else [])
        step = shopper_links([(cart_id, keys)], known=stored)
        for key, shopper in list(stored.items()):
            stored[key] = step.merged.get(shopper, shopper)
        stored.update(step.shopper_of)
    expected = shopper_groups((c, visitors[c], customer) for c, customer in events)
    for cart_id, _ in events:
        assert stored[(V, visitors[cart_id])] == expected[cart_id]


touches_strategy = st.lists(
    st.builds(
        touch,
        id=st.integers(1, 50),
        cart=st.integers(1, 5),
        hours=st.integers(0, 72),
        experiment=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda t: t.id,
)
orders_strategy = st.lists(
    st.builds(
        order,
        cart=st.integers(1, 5),
        hours=st.integers(-5, 100),
        order_id=st.sampled_from(["a", "b", "c", "d", "e"]),
        total=st.sampled_from(["10", "25.50", "99.99"]),
    ),
    max_size=8,
)


@given(touches_strategy, orders_strategy)
def test_every_credit_is_valid_and_each_order_counts_once(touches, orders):
    credits = attribute_orders(touches, orders)
    by_id = {t.id: t for t in touches}
    credited_orders = [c.order.order_id for c in credits.values()]
    assert len(credited_orders) == len(set(credited_orders))  # an order credited once
    for touch_id, credit in credits.items():
        t = by_id[touch_id]
        assert t.covers(credit.order.completed_at)
        assert credit.attribution == (
            SAME_CART if credit.order.cart_id == t.cart_id else SAME_SHOPPER
        )
    # Revenue credited never exceeds the revenue of the distinct orders
    assert sum((c.order.total for c in credits.values()), Decimal(0)) <= sum(
        (o.total for o in distinct_orders(orders)), Decimal(0)
    )


@given(touches_strategy, orders_strategy, st.randoms())
def test_attribution_does_not_depend_on_input_order(touches, orders, random):
    shuffled_touches, shuffled_orders = touches[:], orders[:]
    random.shuffle(shuffled_touches)
    random.shuffle(shuffled_orders)
    assert attribute_orders(touches, orders) == attribute_orders(shuffled_touches, shuffled_orders)


@given(touches_strategy, orders_strategy)
def test_an_order_inside_some_window_is_always_credited(touches, orders):
    credits = attribute_orders(touches, orders)
    credited = {c.order.order_id for c in credits.values()}
    for o in distinct_orders(orders):
        takers = [t for t in touches if t.covers(o.completed_at)]
        # Each intervention takes at most one order, so an order can go uncredited only
        # when every intervention covering it already took an earlier order.
        if o.order_id not in credited:
            assert all(t.id in credits for t in takers)
