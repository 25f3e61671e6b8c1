"""The stall sweep end to end: events in, carts past their deadline decided, all recorded.

Carts are built through the real validation and ingestion service, so their deadlines
come from the stall rules; the sweep is called with an explicit ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cartassist.api.serializers import validate_events
from cartassist.carts.services.ingest import cart_events_ingest
from cartassist.domain.holdout import is_held_out
from cartassist.flows.sweep import stall_sweep
from cartassist.models import (
    Cart,
    CartStatus,
    Decision,
    EventSource,
    Intervention,
    Site,
    Stage,
    StallReason,
    StallRule,
    SuppressionReason,
    Visitor,
)
from tests.fixtures.carts import iso, make_event
from tests.fixtures.sites import make_site, make_stall_rules

# A Tuesday in March; Europe/Berlin (the test site's zone) is UTC+1 until 29 March.
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SHIPPING_WAIT = timedelta(minutes=5)  # the fixture's shipping threshold


# --- builders ------------------------------------------------------------------------------


def post(
    site: Site,
    kind: str,
    at: datetime,
    *,
    cart: str = "cart-1",
    visitor: str = "visitor-1",
    source: EventSource = EventSource.WIDGET,
    **data: Any,
) -> None:
    """Ingest one event through validation and the ingestion service, received at ``at``."""
    event = make_event(kind, occurred_at=iso(at), cart_id=cart, visitor_id=visitor)
    if data:
        event["data"] = data
    valid = validate_events([event], site=site, trusted=source == EventSource.SERVER, now=at)
    cart_events_ingest(site=site, events=valid, source=source, now=at)


def shipping_cart(
    site: Site,
    at: datetime,
    *,
    cart: str = "cart-1",
    visitor: str = "visitor-1",
    subtotal: str = "60.00",
    fee: str = "14.90",
) -> datetime:
    """A cart that reached shipping and got a delivery quote at ``at``; returns its deadline."""
    lines = [{"sku": "MUG-1", "name": "Mug", "quantity": 1, "unit_price": subtotal}]
    post(site, "cart_updated", at - timedelta(minutes=2), cart=cart, visitor=visitor,
         currency="EUR", subtotal=subtotal, lines=lines)  # fmt: skip
    post(site, "checkout_step", at - timedelta(minutes=1), cart=cart, visitor=visitor,
         step="shipping")  # fmt: skip
    post(site, "shipping_quoted", at, cart=cart, visitor=visitor, currency="EUR", fee=fee)
    deadline = Cart.objects.get(site=site, external_id=cart).stall_deadline
    assert deadline == at + SHIPPING_WAIT
    return deadline


def decisions() -> dict[str, tuple[str, str]]:
    """cart id → (decision, suppression reason), for every recorded intervention."""
    return {
        i.cart.external_id: (i.decision, i.suppression_reason)
        for i in Intervention.objects.select_related("cart")
    }


INVITED = (Decision.INVITED, "")


def suppressed(reason: SuppressionReason) -> tuple[str, str]:
    return (Decision.SUPPRESSED, reason.value)


# --- classification -----------------------------------------------------------------------


def test_a_shipping_shock_is_recorded_with_its_measurements(site):
    # given: a 14.90 delivery charge quoted on a 60.00 cart (25 %), then nothing
    deadline = shipping_cart(site, T0)
    now = deadline + timedelta(minutes=1)
    # when
    result = stall_sweep(now=now)
    # then
    assert (result.claimed, result.decisions, result.batches) == (1, {"invited": 1}, 1)
    intervention = Intervention.objects.get()
    assert {
        "cart": intervention.cart.external_id,
        "visitor_id": intervention.visitor_id,
        "stall_deadline": intervention.stall_deadline,
        "stage": intervention.stage,
        "stall_reason": intervention.stall_reason,
        "urgency": intervention.urgency,
        "inactivity": intervention.inactivity,
        "cart_value": intervention.cart_value,
        "currency": intervention.currency,
        "decision": intervention.decision,
        "suppression_reason": intervention.suppression_reason,
        "decided_at": intervention.decided_at,
    } == {
        "cart": "cart-1",
        "visitor_id": "visitor-1",
        "stall_deadline": T0 + SHIPPING_WAIT,
        "stage": Stage.SHIPPING,
        "stall_reason": StallReason.SHIPPING_SHOCK,
        "urgency": 35 + 20 + 13,  # shipping shock + shipping stage + 60.00 of value
        "inactivity": timedelta(minutes=6),
        "cart_value": Decimal("60.00"),
        "currency": "EUR",
        "decision": Decision.INVITED,
        "suppression_reason": "",
        "decided_at": now,
    }
    cart = Cart.objects.get()
    assert (cart.status, cart.stall_deadline) == (CartStatus.STALLED, None)
    assert Visitor.objects.get().last_invited_at == now


def test_a_small_delivery_charge_is_idle_not_shock(site):
    # given: 4.90 on 60.00 is 8 %, under the default 15 %
    deadline = shipping_cart(site, T0, fee="4.90")
    # when
    stall_sweep(now=deadline)
    # then
    intervention = Intervention.objects.get()
    assert (intervention.stall_reason, intervention.urgency) == (StallReason.IDLE, 10 + 20 + 13)


def test_the_shipping_shock_ratio_is_a_site_setting(site):
    # given
    site.shipping_shock_ratio = Decimal("0.05")
    site.save()
    deadline = shipping_cart(site, T0, fee="4.90")
    # when
    stall_sweep(now=deadline)
    # then
    assert Intervention.objects.get().stall_reason == StallReason.SHIPPING_SHOCK


def test_a_failed_payment_is_the_reason(site):
    # given
    post(site, "cart_updated", T0, currency="EUR", subtotal="60.00", lines=[])
    post(site, "payment_failed", T0 + timedelta(minutes=1), reason="card_declined")
    # when
    stall_sweep(now=T0 + timedelta(minutes=6))
    # then
    intervention = Intervention.objects.get()
    assert (intervention.stall_reason, intervention.stage, intervention.urgency) == (
        StallReason.PAYMENT_FAILED,
        Stage.PAYMENT,
        40 + 30 + 13,
    )


def test_a_rejected_coupon_is_the_reason(site):
    # given: still on the cart page (30 minute threshold)
    post(site, "cart_updated", T0, currency="EUR", subtotal="60.00", lines=[])
    post(site, "coupon_rejected", T0 + timedelta(minutes=1), code="WELCOME10")
    # when
    stall_sweep(now=T0 + timedelta(minutes=31))
    # then
    intervention = Intervention.objects.get()
    assert (intervention.stall_reason, intervention.stage, intervention.urgency) == (
        StallReason.COUPON_REJECTED,
        Stage.CART,
        25 + 0 + 13,
    )


def test_a_quiet_cart_is_idle_at_its_step(site):
    # given
    post(site, "cart_updated", T0, currency="EUR", subtotal="60.00", lines=[])
    post(site, "checkout_step", T0 + timedelta(minutes=1), step="contact")
    # when
    stall_sweep(now=T0 + timedelta(minutes=11))
    # then
    intervention = Intervention.objects.get()
    assert (intervention.stall_reason, intervention.stage, intervention.urgency) == (
        StallReason.IDLE,
        Stage.CONTACT,
        10 + 10 + 13,
    )


# --- which carts the sweep takes ----------------------------------------------------------


def test_a_cart_not_yet_past_its_deadline_is_untouched(site):
    # given
    deadline = shipping_cart(site, T0)
    before = Cart.objects.values().get()
    # when
    result = stall_sweep(now=deadline - timedelta(seconds=1))
    # then
    assert (result.claimed, result.decisions) == (0, {})
    assert Intervention.objects.count() == 0
    assert Cart.objects.values().get() == before


def test_a_cart_is_decided_at_its_deadline_exactly(site):
    # given
    deadline = shipping_cart(site, T0)
    # when
    result = stall_sweep(now=deadline)
    # then
    assert result.claimed == 1
    assert Intervention.objects.get().inactivity == SHIPPING_WAIT


def test_a_sweep_limited_to_sites_leaves_the_others_alone(site):
    # given: a stalled cart on the site, and one on another site with the same rules
    other = make_site(name="Other shop")
    make_stall_rules(other, shipping=SHIPPING_WAIT)
    deadline = shipping_cart(site, T0)
    shipping_cart(other, T0)
    # when: the sweep is limited to the other site (the simulator sweeps its own site)
    result = stall_sweep(now=deadline, site_ids=[other.pk])
    # then
    assert result.claimed == 1
    assert list(Intervention.objects.values_list("site_id", flat=True)) == [other.pk]
    assert Cart.objects.get(site=site).stall_deadline == deadline


def test_a_converted_cart_is_never_swept(site):
    # given
    shipping_cart(site, T0)
    post(site, "order_completed", T0 + timedelta(minutes=1), order_id="o-1", currency="EUR",
         total="74.90")  # fmt: skip
    # when
    result = stall_sweep(now=T0 + timedelta(days=30))
    # then
    assert result.claimed == 0
    assert Intervention.objects.count() == 0
    assert Cart.objects.get().status == CartStatus.CONVERTED


def test_a_cart_below_the_minimum_value_is_never_swept(site):
    # given: the shipping rule applies from 100.00 on
    StallRule.objects.filter(site=site, stage=Stage.SHIPPING).update(
        minimum_cart_value=Decimal("100.00")
    )
    post(site, "cart_updated", T0, cart="small", currency="EUR", subtotal="99.99", lines=[])
    post(site, "checkout_step", T0, cart="small", step="shipping")
    shipping_cart(site, T0, cart="large", visitor="visitor-2", subtotal="100.00")
    # when
    stall_sweep(now=T0 + timedelta(days=1))
    # then
    assert Cart.objects.get(external_id="small").stall_deadline is None
    assert decisions() == {"large": INVITED}


def test_a_disabled_rule_stalls_nothing(site):
    # given
    StallRule.objects.filter(site=site, stage=Stage.SHIPPING).update(enabled=False)
    post(site, "cart_updated", T0, currency="EUR", subtotal="60.00", lines=[])
    post(site, "checkout_step", T0, step="shipping")
    # when
    result = stall_sweep(now=T0 + timedelta(days=1))
    # then
    assert Cart.objects.get().stall_deadline is None
    assert (result.claimed, Intervention.objects.count()) == (0, 0)


def test_a_site_without_rules_stalls_nothing(db):
    # given
    bare = make_site(name="No rules")
    post(bare, "cart_updated", T0, currency="EUR", subtotal="60.00", lines=[])
    # when
    result = stall_sweep(now=T0 + timedelta(days=1))
    # then
    assert (result.claimed, Intervention.objects.count()) == (0, 0)


# --- suppression -------------------------------------------------------------------------


def test_an_opted_out_visitor_is_not_invited(site):
    # given
    deadline = shipping_cart(site, T0)
    post(site, "opted_out", T0 + timedelta(minutes=1))
    # when
    result = stall_sweep(now=deadline)
    # then
    assert decisions() == {"cart-1": suppressed(SuppressionReason.OPTED_OUT)}
    assert result.decisions == {"suppressed": 1}
    assert Visitor.objects.get().last_invited_at is None


def test_an_opt_out_from_another_cart_applies_to_the_visitor(site):
    # given: the visitor opted out while on an earlier cart
    post(site, "opted_out", T0 - timedelta(hours=5), cart="old-cart")
    deadline = shipping_cart(site, T0, cart="new-cart")
    # when
    stall_sweep(now=deadline)
    # then: both carts of the visitor (the old one stalled empty, at the cart stage)
    assert decisions() == {
        "old-cart": suppressed(SuppressionReason.OPTED_OUT),
        "new-cart": suppressed(SuppressionReason.OPTED_OUT),
    }


def test_two_carts_of_one_visitor_in_one_batch_get_one_invitation(site):
    # given: the same shopper in two tabs (two carts), both stalled
    shipping_cart(site, T0, cart="tab-1")
    deadline = shipping_cart(site, T0 + timedelta(minutes=1), cart="tab-2")
    # when
    result = stall_sweep(now=deadline)
    # then: the earlier deadline is invited, the other capped
    assert result.batches == 1
    assert decisions() == {
        "tab-1": INVITED,
        "tab-2": suppressed(SuppressionReason.FREQUENCY_CAP),
    }


def test_the_frequency_cap_holds_across_batches(site):
    # given
    shipping_cart(site, T0, cart="tab-1")
    deadline = shipping_cart(site, T0 + timedelta(minutes=1), cart="tab-2")
    # when
    result = stall_sweep(now=deadline, batch_size=1)
    # then
    assert result.batches >= 2
    assert decisions() == {
        "tab-1": INVITED,
        "tab-2": suppressed(SuppressionReason.FREQUENCY_CAP),
    }


def test_the_frequency_cap_holds_across_sweeps_until_it_expires(site):
    # given: invited at T0 + 5 min
    stall_sweep(now=shipping_cart(site, T0, cart="first"))
    second = shipping_cart(site, T0 + timedelta(hours=2), cart="second")
    third = shipping_cart(site, T0 + timedelta(hours=25), cart="third")
    # when
    stall_sweep(now=second)
    stall_sweep(now=third)
    # then
    assert decisions() == {
        "first": INVITED,
        "second": suppressed(SuppressionReason.FREQUENCY_CAP),
        "third": INVITED,
    }
    assert Visitor.objects.get().last_invited_at == third


def test_the_frequency_cap_is_a_site_setting(site):
    # given
    site.frequency_cap_hours = 1
    site.save()
    stall_sweep(now=shipping_cart(site, T0, cart="first"))
    # when
    stall_sweep(now=shipping_cart(site, T0 + timedelta(hours=1), cart="second"))
    # then
    assert decisions() == {"first": INVITED, "second": INVITED}


def test_other_visitors_are_not_capped(site):
    # given
    shipping_cart(site, T0, cart="a", visitor="visitor-a")
    deadline = shipping_cart(site, T0, cart="b", visitor="visitor-b")
    # when
    stall_sweep(now=deadline)
    # then
    assert decisions() == {"a": INVITED, "b": INVITED}


def quiet_site(**overrides: Any) -> Site:
    values: dict[str, Any] = {
        "name": "Quiet",
        "quiet_hours_start": time(22, 0),
        "quiet_hours_end": time(7, 0),
    }
    values.update(overrides)
    site = make_site(**values)
    make_stall_rules(site)
    return site


@pytest.mark.parametrize(
    ("sweep_at", "expected"),
    [
        # Europe/Berlin is UTC+1 on these dates.
        (datetime(2026, 3, 10, 20, 59, tzinfo=UTC), INVITED),  # 21:59 local
        (datetime(2026, 3, 10, 21, 0, tzinfo=UTC), suppressed(SuppressionReason.QUIET_HOURS)),
        (datetime(2026, 3, 10, 23, 30, tzinfo=UTC), suppressed(SuppressionReason.QUIET_HOURS)),
        (datetime(2026, 3, 11, 5, 59, tzinfo=UTC), suppressed(SuppressionReason.QUIET_HOURS)),
        (datetime(2026, 3, 11, 6, 0, tzinfo=UTC), INVITED),  # 07:00 local
    ],
    ids=["21:59", "22:00", "00:30-next-day", "06:59", "07:00"],
)
def test_quiet_hours_in_the_site_timezone_wrap_past_midnight(db, sweep_at, expected):
    # given: quiet from 22:00 to 07:00 Berlin time
    site = quiet_site(timezone="Europe/Berlin")
    shipping_cart(site, sweep_at - timedelta(minutes=10))
    # when
    stall_sweep(now=sweep_at)
    # then
    assert decisions() == {"cart-1": expected}


def test_quiet_hours_follow_the_site_timezone_not_utc(db):
    # given: 23:30 UTC is 00:30 in Berlin but 18:30 in New York
    sweep_at = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    berlin = quiet_site(name="Berlin", timezone="Europe/Berlin")
    new_york = quiet_site(name="New York", timezone="America/New_York")
    shipping_cart(berlin, sweep_at - timedelta(minutes=10), cart="berlin")
    shipping_cart(new_york, sweep_at - timedelta(minutes=10), cart="new-york")
    # when
    stall_sweep(now=sweep_at)
    # then
    assert decisions() == {
        "berlin": suppressed(SuppressionReason.QUIET_HOURS),
        "new-york": INVITED,
    }


def test_no_agent_available_per_the_site_setting(site):
    # given
    site.agents_available = False
    site.save()
    deadline = shipping_cart(site, T0)
    # when
    stall_sweep(now=deadline)
    # then
    assert decisions() == {"cart-1": suppressed(SuppressionReason.NO_AGENT_AVAILABLE)}


CHECKED_SITES: list[str] = []


def nobody_is_available(site: Site) -> bool:
    """A stand-in for the live-chat presence check (CARTASSIST_AGENT_AVAILABILITY)."""
    CHECKED_SITES.append(site.name)
    return False


def test_the_agent_availability_check_is_pluggable(site, settings):
    # given: the site switch says yes, the configured check says no
    settings.CARTASSIST_AGENT_AVAILABILITY = f"{__name__}.nobody_is_available"
    CHECKED_SITES.clear()
    shipping_cart(site, T0, cart="a", visitor="visitor-a")
    deadline = shipping_cart(site, T0, cart="b", visitor="visitor-b")
    # when
    stall_sweep(now=deadline)
    # then: asked once per site and batch, not once per cart
    assert decisions() == {
        "a": suppressed(SuppressionReason.NO_AGENT_AVAILABLE),
        "b": suppressed(SuppressionReason.NO_AGENT_AVAILABLE),
    }
    assert CHECKED_SITES == ["Test Shop"]


def test_a_pluggable_check_can_also_override_the_site_switch(site, settings):
    # given
    settings.CARTASSIST_AGENT_AVAILABILITY = "cartassist.availability.always"
    site.agents_available = False
    site.save()
    deadline = shipping_cart(site, T0)
    # when
    stall_sweep(now=deadline)
    # then
    assert decisions() == {"cart-1": INVITED}


def test_suppression_comes_before_the_holdout(site):
    # given: everyone would be held out, but the visitor opted out
    site.holdout_share = Decimal(1)
    site.save()
    deadline = shipping_cart(site, T0)
    post(site, "opted_out", T0 + timedelta(minutes=1))
    # when
    stall_sweep(now=deadline)
    # then
    assert decisions() == {"cart-1": suppressed(SuppressionReason.OPTED_OUT)}


# --- holdout -----------------------------------------------------------------------------


def test_a_full_holdout_invites_nobody(site):
    # given
    site.holdout_share = Decimal(1)
    site.save()
    shipping_cart(site, T0, cart="a")
    deadline = shipping_cart(site, T0, cart="b")
    # when
    result = stall_sweep(now=deadline)
    # then: held-out carts are not invitations, so the same visitor is not capped either
    assert result.decisions == {"held_out": 2}
    assert decisions() == {"a": (Decision.HELD_OUT, ""), "b": (Decision.HELD_OUT, "")}
    assert Visitor.objects.filter(last_invited_at__isnull=False).count() == 0


def test_the_holdout_decision_is_deterministic_per_cart(db):
    # given: half held out; no frequency cap, so every cart can be decided again
    site = make_site(
        name="Half", public_key="pk_fixed", holdout_share=Decimal("0.5"), frequency_cap_hours=0
    )
    make_stall_rules(site)
    carts = [f"cart-{n}" for n in range(24)]
    for n, cart in enumerate(carts):
        shipping_cart(site, T0, cart=cart, visitor=f"visitor-{n}")
    stall_sweep(now=T0 + SHIPPING_WAIT)
    first_run = decisions()
    # when: every cart comes back to life and stalls again
    later = T0 + timedelta(hours=1)
    for n, cart in enumerate(carts):
        post(site, "shipping_quoted", later, cart=cart, visitor=f"visitor-{n}",
             currency="EUR", fee="14.90")  # fmt: skip
    stall_sweep(now=later + SHIPPING_WAIT)
    # then
    second_run = {
        i.cart.external_id: (i.decision, i.suppression_reason)
        for i in Intervention.objects.filter(stall_deadline=later + SHIPPING_WAIT)
    }
    held_out = {c for c in carts if is_held_out(c, Decimal("0.5"), "pk_fixed")}
    expected = {
        cart: (Decision.HELD_OUT if cart in held_out else Decision.INVITED, "") for cart in carts
    }
    assert first_run == second_run == expected
    assert 0 < len(held_out) < len(carts)  # both outcomes occur: the test can fail


# --- re-arming, idempotency and batches -------------------------------------------------


def test_new_activity_after_a_decision_arms_a_new_deadline(site):
    # given: decided once
    first_deadline = shipping_cart(site, T0)
    stall_sweep(now=first_deadline)
    # when: the shopper comes back, then stalls again
    post(site, "checkout_step", T0 + timedelta(minutes=20), step="payment")
    cart = Cart.objects.get()
    assert (cart.status, cart.stall_deadline) == (
        CartStatus.ACTIVE,
        T0 + timedelta(minutes=25),
    )
    stall_sweep(now=T0 + timedelta(minutes=25))
    # then: a second intervention for the new deadline (capped: invited 20 min ago)
    assert list(
        Intervention.objects.order_by("decided_at").values_list(
            "stall_deadline", "stage", "decision", "suppression_reason"
        )
    ) == [
        (first_deadline, Stage.SHIPPING, Decision.INVITED, ""),
        (T0 + timedelta(minutes=25), Stage.PAYMENT, Decision.SUPPRESSED, "frequency_cap"),
    ]


def test_sweeping_twice_records_nothing_twice(site):
    # given
    deadline = shipping_cart(site, T0)
    stall_sweep(now=deadline)
    # when
    again = stall_sweep(now=deadline + timedelta(minutes=1))
    # then
    assert (again.claimed, again.decisions) == (0, {})
    assert Intervention.objects.count() == 1


def test_a_late_event_with_the_same_timestamp_does_not_jam_the_sweep(site):
    # given: decided at T0 + 30 min; then a second event stamped T0 (second-resolution
    # clocks) arrives late. It applies, and re-arms the very same deadline.
    post(site, "cart_updated", T0, currency="EUR", subtotal="60.00", lines=[])
    deadline = T0 + timedelta(minutes=30)
    stall_sweep(now=deadline)
    recorded = Intervention.objects.values().get()
    post(site, "cart_updated", T0, currency="EUR", subtotal="60.00", lines=[])
    assert Cart.objects.get().stall_deadline == deadline
    # when
    result = stall_sweep(now=deadline + timedelta(minutes=1))
    # then: one decision per (cart, deadline) stands; the cart does not block later batches
    assert result.claimed == 1
    assert Intervention.objects.values().get() == recorded
    cart = Cart.objects.get()
    assert (cart.status, cart.stall_deadline) == (CartStatus.STALLED, None)


def test_small_batches_still_decide_every_stalled_cart(site):
    # given: seven stalled carts of seven visitors
    for n in range(7):
        shipping_cart(site, T0 + timedelta(seconds=n), cart=f"cart-{n}", visitor=f"v-{n}")
    # when
    result = stall_sweep(now=T0 + timedelta(hours=1), batch_size=3)
    # then
    assert (result.claimed, result.batches, result.decisions) == (7, 3, {"invited": 7})
    assert sorted(decisions()) == [f"cart-{n}" for n in range(7)]
    assert Cart.objects.filter(stall_deadline__isnull=False).count() == 0


def test_a_bounded_sweep_takes_the_oldest_deadlines_first(site):
    # given
    for n in range(5):
        shipping_cart(site, T0 + timedelta(seconds=n), cart=f"cart-{n}", visitor=f"v-{n}")
    # when
    result = stall_sweep(now=T0 + timedelta(hours=1), batch_size=2, max_batches=1)
    # then
    assert (result.claimed, result.batches) == (2, 1)
    assert sorted(decisions()) == ["cart-0", "cart-1"]
    assert Cart.objects.filter(stall_deadline__isnull=False).count() == 3


# --- cost: the sweep reads carts through the deadline index ------------------------------


def bystanders(site: Site, count: int) -> None:
    """Carts the sweep must not read: no deadline, a future deadline, converted."""
    rows = []
    for n in range(count):
        kind = n % 3
        rows.append(
            Cart(
                site=site,
                external_id=f"other-{n}",
                visitor_id=f"other-visitor-{n}",
                currency="EUR",
                subtotal=Decimal("60.00"),
                state_at=T0,
                last_activity_at=T0,
                stall_deadline=T0 + timedelta(days=1) if kind == 1 else None,
                status=CartStatus.CONVERTED if kind == 2 else CartStatus.ACTIVE,
            )
        )
    Cart.objects.bulk_create(rows)


def test_sweep_queries_do_not_grow_with_carts_that_are_not_stalled(site, django_assert_num_queries):
    # given: the queries of a sweep deciding one cart, with no other carts around
    first = shipping_cart(site, T0, cart="first", visitor="visitor-1")
    with CaptureQueriesContext(connection) as alone:
        stall_sweep(now=first)
    bystanders(site, 300)
    deadline = shipping_cart(site, T0 + timedelta(hours=1), cart="second", visitor="visitor-2")
    untouched = list(Cart.objects.filter(external_id__startswith="other-").values())
    # when: the same sweep among 300 carts that are not stalled
    with django_assert_num_queries(len(alone.captured_queries)):
        result = stall_sweep(now=deadline)
    # then
    assert result.claimed == 1
    assert list(Cart.objects.filter(external_id__startswith="other-").values()) == untouched


def test_the_sweep_claims_carts_through_the_deadline_index(site):
    # given
    deadline = shipping_cart(site, T0)
    bystanders(site, 30)
    # when
    with CaptureQueriesContext(connection) as captured:
        stall_sweep(now=deadline)
    due, claim, *_ = (
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "cartassist_cart"' in q["sql"]
    )
    # then: the probe "anything due?" and the claim filter on the deadline (the claim
    # also orders on it), and the planner uses its index for both
    assert '"stall_deadline" <=' in due
    assert '"stall_deadline" <=' in claim
    assert 'ORDER BY "cartassist_cart"."stall_deadline"' in claim
    assert "cart_pending_stall_deadline" in query_plan(due)
    assert "cart_pending_stall_deadline" in query_plan(claim)


def test_a_sweep_with_nothing_due_opens_no_transaction(site):
    # given: carts with deadlines ahead, and none due
    deadline = shipping_cart(site, T0)
    bystanders(site, 30)
    # when
    with CaptureQueriesContext(connection) as captured:
        result = stall_sweep(now=deadline - timedelta(seconds=1))
    # then: one probe of the deadline index, nothing else
    assert (result.claimed, result.batches) == (0, 0)
    assert len(captured.captured_queries) == 1
    assert "FOR UPDATE" not in captured.captured_queries[0]["sql"]
    assert "cart_pending_stall_deadline" in query_plan(captured.captured_queries[0]["sql"])


def query_plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return "\n".join(str(row) for row in cursor.fetchall())
        # PostgreSQL: a tiny test table would be scanned sequentially; forbid that, so
        # the plan shows whether the index is usable for this query at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())
