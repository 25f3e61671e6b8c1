"""Pacing outreach to the helpdesk's capacity in the sweep (docs/adr/0024): urgent stalls
first, waiting then "helpdesk busy", the holdout untouched, a simulated day within
capacity, and the follow-up model measured from the database."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cartassist.carts.services.pacing import (
    capacity_per_hour,
    capacity_snapshot,
    expected_arrivals,
    follow_up_model_compute,
    follow_up_model_get,
    invited_by_hour,
)
from cartassist.domain.holdout import is_held_out
from cartassist.domain.pacing import TOLERANCE, HelpdeskLoad, helpdesk_backlog
from cartassist.flows.sweep import stall_sweep
from cartassist.models import (
    Cart,
    Decision,
    FollowUpContact,
    FollowUpSource,
    HelpdeskCapacity,
    Intervention,
    Site,
)
from cartassist.simulation.population import SimulatedShopper, SimulationConfig, population_draw
from tests.fixtures.agents import make_stalled_cart
from tests.fixtures.sites import make_site, make_stall_rules

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 12, 10, tzinfo=UTC)  # a Tuesday, 13:10 in Berlin
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _availability_by_site_switch(settings: Any) -> None:
    settings.CARTASSIST_AGENT_AVAILABILITY = "cartassist.availability.site_setting"


def grid(value: int) -> list[list[int]]:
    return [[value] * 24 for _ in range(7)]


def paced(site: Site, hourly: list[list[int]]) -> HelpdeskCapacity:
    return HelpdeskCapacity.objects.create(site=site, pacing_enabled=True, hourly=hourly)


def one_hour_curve(settings: Any, *, rate_percent: int = 100) -> None:
    """Every invitation causes ``rate_percent`` % of a contact within the hour after it:
    counted at the middle of its hour, half lands in that hour and half in the next."""
    settings.CARTASSIST_PACING_PRIOR_RATE_PERCENT = rate_percent
    settings.CARTASSIST_PACING_DELAY_HOURS = 1
    settings.CARTASSIST_PACING_HORIZON_HOURS = 2


def idle(site: Site, name: str, *, now: datetime, minutes_late: int = 5) -> Cart:
    cart = make_stalled_cart(
        site, external_id=name, visitor_id=f"v-{name}", stage="cart", subtotal="10.00",
        shipping_fee=None, signal="", now=now,
    )  # fmt: skip
    Cart.objects.filter(pk=cart.pk).update(stall_deadline=now - minutes_late * MINUTE)
    return cart


def payment_failed(site: Site, name: str, *, now: datetime) -> Cart:
    return make_stalled_cart(
        site, external_id=name, visitor_id=f"v-{name}", stage="payment", subtotal="900.00",
        shipping_fee=None, signal="payment_failed", now=now,
    )  # fmt: skip


def decided() -> dict[str, tuple[str, str]]:
    return {
        i.cart.external_id: (i.decision, i.suppression_reason)
        for i in Intervention.objects.select_related("cart")
    }


INVITED = (Decision.INVITED, "")
BUSY = (Decision.SUPPRESSED, "helpdesk_busy")


def test_urgent_stalls_take_the_capacity_first(site: Site, settings: Any) -> None:
    # given: room for two invitations' follow-ups; two idle carts due first, then a
    # failed payment on a high-value cart
    one_hour_curve(settings)
    paced(site, grid(1))
    idle(site, "idle-1", now=T0, minutes_late=9)
    idle(site, "idle-2", now=T0, minutes_late=8)
    payment_failed(site, "urgent", now=T0)
    # when
    result = stall_sweep(now=T0)
    # then: the urgent one and the older idle cart are invited; the other waits, due
    assert decided() == {"urgent": INVITED, "idle-1": INVITED}
    assert result.decisions["deferred"] == 1
    waiting = Cart.objects.get(external_id="idle-2")
    assert waiting.stall_deadline == T0 + settings.CARTASSIST_PACING_RETRY
    assert waiting.pacing_due_since == T0 - 8 * MINUTE
    assert waiting.status == "active"


def test_an_invitation_waits_then_is_suppressed_as_helpdesk_busy(site: Site, settings: Any) -> None:
    # given: a helpdesk closed all week
    one_hour_curve(settings)
    paced(site, grid(0))
    cart = idle(site, "idle", now=T0, minutes_late=1)
    due = T0 - MINUTE
    # when: swept at once, then at each retry until decided
    moments = [T0]
    stall_sweep(now=T0)
    while not Intervention.objects.exists():
        deadline = Cart.objects.get(pk=cart.pk).stall_deadline
        assert deadline is not None
        moments.append(deadline)
        stall_sweep(now=deadline)
    # then: retried every 30 s; 10 minutes after its deadline it was suppressed
    assert moments[1] == T0 + timedelta(seconds=30)
    assert moments[-1] == due + settings.CARTASSIST_PACING_MAX_WAIT
    assert all(b - a <= settings.CARTASSIST_PACING_RETRY for a, b in itertools.pairwise(moments))
    intervention = Intervention.objects.get()
    assert (intervention.decision, intervention.suppression_reason) == BUSY
    assert intervention.stall_deadline == due
    assert intervention.paced_wait == timedelta(minutes=10)
    assert Cart.objects.filter(pk=cart.pk, stall_deadline=None, pacing_due_since=None).exists()


def test_a_waiting_invitation_is_sent_once_the_helpdesk_has_room(site: Site, settings: Any) -> None:
    # given: one contact an hour, and the helpdesk reported one open contact at 13:10
    one_hour_curve(settings)
    settings.CARTASSIST_PACING_MAX_WAIT = timedelta(hours=2)
    settings.CARTASSIST_PACING_RETRY = timedelta(minutes=50)
    capacity = paced(site, grid(1))
    capacity.open_contacts, capacity.reported_at = 1, T0
    capacity.save()
    cart = idle(site, "idle", now=T0, minutes_late=1)
    # when: swept at 13:10 Berlin (the queue is full) and at the retry, 14:00 Berlin (the
    # report is older than CARTASSIST_HELPDESK_QUEUE_MAX_AGE)
    stall_sweep(now=T0)
    assert not Intervention.objects.exists()
    stall_sweep(now=T0 + timedelta(minutes=50))
    # then: invited, with the wait recorded
    intervention = Intervention.objects.get(cart=cart)
    assert (intervention.decision, intervention.suppression_reason) == INVITED
    assert intervention.paced_wait == timedelta(minutes=51)


def test_new_activity_forgets_an_earlier_wait(site: Site, settings: Any) -> None:
    # given: a cart that waited, then the shopper came back (new activity, new deadline)
    one_hour_curve(settings)
    paced(site, grid(5))
    cart = idle(site, "idle", now=T0)
    Cart.objects.filter(pk=cart.pk).update(
        pacing_due_since=T0 - timedelta(hours=2), last_activity_at=T0 - timedelta(minutes=30)
    )
    # when
    stall_sweep(now=T0)
    # then: decided on its own deadline, no wait
    intervention = Intervention.objects.get()
    assert intervention.decision == Decision.INVITED
    assert intervention.stall_deadline == T0 - 5 * MINUTE
    assert intervention.paced_wait is None


def test_pacing_is_off_without_a_capacity_or_when_switched_off(site: Site, settings: Any) -> None:
    one_hour_curve(settings)
    HelpdeskCapacity.objects.create(site=site, pacing_enabled=False, hourly=grid(0))
    for n in range(3):
        idle(site, f"idle-{n}", now=T0)
    stall_sweep(now=T0)
    assert set(decided().values()) == {INVITED}


def test_the_holdout_share_is_unchanged_by_pacing(db: Any, settings: Any) -> None:
    # given: 30 % holdout and a helpdesk with room for a few invitations only; no waiting
    one_hour_curve(settings)
    settings.CARTASSIST_PACING_MAX_WAIT = timedelta(0)
    site = make_site(holdout_share=Decimal("0.300"))
    make_stall_rules(site)
    paced(site, grid(2))
    carts = [payment_failed(site, f"cart-{n}", now=T0) for n in range(300)]
    # when
    stall_sweep(now=T0)
    # then: exactly the carts the holdout picks are held out, whatever pacing did
    outcome = decided()
    held_out = {name for name, (decision, _) in outcome.items() if decision == Decision.HELD_OUT}
    expected = {
        c.external_id
        for c in carts
        if is_held_out(c.external_id, site.holdout_share, salt=site.public_key)
    }
    assert held_out == expected
    assert len(outcome) == 300
    assert 0 < sum(1 for o in outcome.values() if o == INVITED) < 300 - len(expected)
    assert {o for o in outcome.values() if o[0] != Decision.HELD_OUT} == {INVITED, BUSY}


def queue_per_hour(site: Site, *, start: datetime, hours: int, now: datetime, busy: bool) -> Any:
    """The helpdesk's expected queue at the end of each hour from ``start``, from the
    invitations sent (and, with ``busy``, those pacing held back, as if sent)."""
    model = follow_up_model_compute(site=site, now=now)
    invited = invited_by_hour(site=site, since=start, until=start + hours * timedelta(hours=1))
    if busy:
        held = Intervention.objects.filter(site=site, suppression_reason="helpdesk_busy")
        for i in held:
            hour = i.decided_at.replace(minute=0, second=0, microsecond=0)
            invited.append((hour, i.stall_reason, 1))
    capacity = capacity_snapshot(Site.objects.select_related("helpdesk_capacity").get(pk=site.pk))
    assert capacity is not None
    load = HelpdeskLoad(
        start=start,
        current=0,
        capacity=tuple(capacity_per_hour(capacity, site=site, start=start, hours=hours, now=now)),
        arrivals=tuple(expected_arrivals(invited, model, start=start, hours=hours)),
    )
    return load, helpdesk_backlog(load)


def simulated_cart(site: Site, shopper: SimulatedShopper) -> Cart:
    """The simulator's shopper as a cart stalled a minute before its arrival + 10 min."""
    stalls: dict[str, dict[str, Any]] = {
        "shipping_shock": {"stage": "shipping", "signal": "shipping_quoted"},
        "payment_failed": {"stage": "payment", "signal": "payment_failed", "shipping_fee": None},
        "coupon_rejected": {"stage": "cart", "signal": "coupon_rejected", "shipping_fee": None},
        "idle": {"stage": "contact", "signal": "", "shipping_fee": None},
    }
    return make_stalled_cart(
        site,
        external_id=shopper.cart_id,
        visitor_id=shopper.visitor_id,
        now=shopper.arrival + timedelta(minutes=10),
        **stalls[shopper.stall],
    )


def test_pacing_holds_expected_follow_ups_within_capacity_on_a_simulated_day(
    site: Site, settings: Any
) -> None:
    # given: the simulator's population for one day (its traffic by hour and mix of stall
    # reasons), a helpdesk open 08–20 h Berlin for 3 contacts an hour, 10 % of invitations
    # followed up over 48 hours
    settings.CARTASSIST_PACING_PRIOR_RATE_PERCENT = 10
    office = [[3 if 8 <= hour < 20 else 0 for hour in range(24)] for _ in range(7)]
    paced(site, office)
    day = datetime(2026, 3, 10, tzinfo=UTC) - timedelta(hours=1)  # midnight in Berlin
    shoppers = population_draw(
        random.Random(14),
        config=SimulationConfig(shoppers=400, days=1),
        first_day=date(2026, 3, 10),
        tz=ZoneInfo("Europe/Berlin"),
        prefix="sim-",
    )
    # when: each cart is swept at its deadline (the sweep also retries the waiting ones)
    for shopper in shoppers:
        cart = simulated_cart(site, shopper)
        assert cart.stall_deadline is not None
        stall_sweep(now=cart.stall_deadline + MINUTE)
    stall_sweep(now=shoppers[-1].arrival + timedelta(hours=1))
    # then: every cart is decided; some invited, some held back as helpdesk busy
    outcome = decided()
    assert len(outcome) == 400
    assert INVITED in outcome.values()
    assert BUSY in outcome.values()
    # and: at the end of every open hour of the day and the horizon after it, no expected
    # follow-up is left waiting
    hours = 24 + settings.CARTASSIST_PACING_HORIZON_HOURS
    load, queue = queue_per_hour(site, start=day, hours=hours, now=day, busy=False)
    open_hours = [q for c, q in zip(load.capacity, queue, strict=True) if c > 0]
    assert max(open_hours) <= TOLERANCE
    assert sum(load.arrivals) > 10  # the helpdesk was kept busy, not idle
    # and: had every paced invitation been sent, the helpdesk would have been overrun
    _, unpaced = queue_per_hour(site, start=day, hours=hours, now=day, busy=True)
    assert max(unpaced) > 1


def test_the_follow_up_model_is_measured_from_helpdesk_contacts(site: Site, settings: Any) -> None:
    # given: 10 idle invitations two days ago, 4 followed up by the helpdesk (two within
    # the first hour, one after 2 h 30, one after the delay window) and one by chat
    settings.CARTASSIST_PACING_DELAY_HOURS = 24
    settings.CARTASSIST_PACING_PRIOR_STRENGTH = 0
    settings.CARTASSIST_PACING_REASON_STRENGTH = 0
    then = T0 - timedelta(days=2)
    for n in range(10):
        idle(site, f"idle-{n}", now=then)
    stall_sweep(now=then)
    interventions = list(Intervention.objects.order_by("cart__external_id"))
    delays = [timedelta(minutes=10), timedelta(minutes=40), timedelta(hours=2, minutes=30)]
    for n, delay in enumerate([*delays, timedelta(hours=30)]):
        FollowUpContact.objects.create(
            site=site, key=f"hd-{n}", source=FollowUpSource.HELPDESK, channel="phone",
            reason="other", occurred_at=then + delay, received_at=then + delay,
            intervention=interventions[n],
        )  # fmt: skip
    FollowUpContact.objects.create(
        site=site, key="chat-1", source=FollowUpSource.CHAT, channel="chat", reason="other",
        occurred_at=then + MINUTE, received_at=then + MINUTE, intervention=interventions[5],
    )  # fmt: skip
    # when
    model = follow_up_model_compute(site=site, now=T0)
    # then: 3 of 10 within the window (no shrinkage at strength 0); the curve's mass
    # shrunk towards the default shape by 20 pseudo-contacts
    assert model.rate("idle") == pytest.approx(0.3)
    assert model.rate("payment_failed") == pytest.approx(0.3)  # unseen: the overall rate
    assert len(model.curve) == 24
    assert sum(model.curve) == pytest.approx(1.0)
    assert model.curve[0] > model.curve[1]
    assert model.curve[2] > model.curve[3]


def test_a_paced_batch_costs_one_grouped_query_more(site: Site, settings: Any) -> None:
    # given: a warmed-up sweep, then the queries of a batch of one cart, unpaced
    one_hour_curve(settings)
    idle(site, "warm-up", now=T0)
    stall_sweep(now=T0)
    idle(site, "unpaced", now=T0 + MINUTE)
    with CaptureQueriesContext(connection) as unpaced:
        stall_sweep(now=T0 + MINUTE)
    # when: the same on the site with pacing on (the follow-up model cached this hour)
    paced(site, grid(5))
    follow_up_model_get(site=site, now=T0 + 2 * MINUTE)
    idle(site, "paced", now=T0 + 2 * MINUTE)
    with CaptureQueriesContext(connection) as with_pacing:
        stall_sweep(now=T0 + 2 * MINUTE)
    # then
    assert decided()["paced"] == INVITED
    assert len(with_pacing.captured_queries) == len(unpaced.captured_queries) + 1
