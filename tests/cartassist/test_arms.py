"""The experiment's arm is drawn per shopper, not per cart (docs/ANALYTICS.md, "The arms";
ADR 0023): one shopper's carts never land in both arms."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from cartassist.carts.services.arms import shopper_arms
from cartassist.domain.holdout import is_held_out
from cartassist.flows.sweep import stall_sweep
from cartassist.models import Arm, Cart, Decision, Intervention, ShopperIdentity, Site
from tests.fixtures.agents import make_intervention, make_stalled_cart

SALT = "pk_arms"


@pytest.fixture
def half(site: Site) -> Site:
    Site.objects.filter(pk=site.pk).update(holdout_share=Decimal("0.5"), public_key=SALT)
    return Site.objects.get(pk=site.pk)


def _arm(cart_id: str) -> Arm:
    return Arm.HOLDOUT if is_held_out(cart_id, Decimal("0.5"), SALT) else Arm.OUTREACH


def _pair_with_different_arms() -> tuple[str, str]:
    """Two shop cart ids the per-cart rule puts in different arms."""
    ids = [f"c-{n}" for n in range(20)]
    first = ids[0]
    return first, next(i for i in ids if _arm(i) != _arm(first))


def _link(
    site: Site, number: int, *, visitors: tuple[str, ...] = (), customers: tuple[str, ...] = ()
) -> None:
    for kind, values in (("visitor", visitors), ("customer", customers)):
        for value in values:
            ShopperIdentity.objects.update_or_create(
                site=site, kind=kind, value=value, defaults={"shopper_id": number}
            )


@pytest.mark.django_db
def test_a_single_cart_shopper_is_drawn_as_the_per_cart_rule_drew_it(half):
    carts = [make_stalled_cart(half, visitor_id=f"v{n}", external_id=f"c-{n}") for n in range(12)]
    arms = shopper_arms(site=half, carts=carts)
    assert {c.external_id: arms[c.pk].arm for c in carts} == {
        c.external_id: _arm(c.external_id) for c in carts
    }
    assert not any(a.returning for a in arms.values())
    assert {a.arm for a in arms.values()} == {Arm.HOLDOUT, Arm.OUTREACH}  # the test can fail


@pytest.mark.django_db
def test_a_later_cart_follows_the_arm_recorded_at_the_shoppers_first(half):
    # given: the shopper's first cart was decided in the arm of "first"; the per-cart
    # rule would put their second cart in the other arm
    first_id, other_id = _pair_with_different_arms()
    first = make_stalled_cart(half, visitor_id="v1", external_id=first_id)
    make_intervention(first, decision=Decision.SUPPRESSED, now=timezone.now() - timedelta(days=2))
    second = make_stalled_cart(half, visitor_id="v1", external_id=other_id)
    # when
    assignment = shopper_arms(site=half, carts=[second])[second.pk]
    # then
    assert assignment.arm == _arm(first_id) != _arm(other_id)
    assert assignment.returning


@pytest.mark.django_db
def test_carts_linked_by_a_customer_id_share_the_arm(half):
    # given: two visitor ids of one customer (a phone and a laptop), linked as one shopper
    first_id, other_id = _pair_with_different_arms()
    laptop = make_stalled_cart(half, visitor_id="laptop", external_id=first_id)
    Cart.objects.filter(pk=laptop.pk).update(customer_id="cust-1")
    decision = Decision.HELD_OUT if _arm(first_id) == Arm.HOLDOUT else Decision.INVITED
    make_intervention(laptop, decision=decision, now=timezone.now() - timedelta(days=1))
    phone = make_stalled_cart(half, visitor_id="phone", external_id=other_id)
    Cart.objects.filter(pk=phone.pk).update(customer_id="cust-1")
    phone.refresh_from_db()
    _link(half, laptop.pk, visitors=("laptop", "phone"), customers=("cust-1",))
    # when / then
    assert shopper_arms(site=half, carts=[phone])[phone.pk].arm == _arm(first_id)


@pytest.mark.django_db
def test_a_new_shopper_is_drawn_from_their_first_cart_and_two_carts_in_one_call_agree(half):
    first_id, other_id = _pair_with_different_arms()
    a = make_stalled_cart(half, visitor_id="v1", external_id=first_id)
    b = make_stalled_cart(half, visitor_id="v2", external_id=other_id)
    _link(half, min(a.pk, b.pk), visitors=("v1", "v2"))
    arms = shopper_arms(site=half, carts=[b, a])
    first_cart = a if a.pk < b.pk else b
    assert arms[a.pk].arm == arms[b.pk].arm == _arm(first_cart.external_id)
    assert [arms[b.pk].returning, arms[a.pk].returning] == [False, True]


@pytest.mark.django_db
def test_merged_shoppers_keep_their_recorded_arms_and_later_carts_follow_the_earlier(half):
    # given: two shoppers decided in different arms, merged later by a customer id
    first_id, other_id = _pair_with_different_arms()
    early = make_stalled_cart(half, visitor_id="v1", external_id=first_id)
    make_intervention(early, decision=Decision.SUPPRESSED, now=timezone.now() - timedelta(days=3))
    late = make_stalled_cart(half, visitor_id="v2", external_id=other_id)
    make_intervention(late, decision=Decision.SUPPRESSED, now=timezone.now() - timedelta(days=1))
    recorded = dict(Intervention.objects.values_list("cart_id", "arm"))
    assert recorded == {early.pk: _arm(first_id), late.pk: _arm(other_id)}
    _link(half, early.pk, visitors=("v1", "v2"))
    # when: the merged shopper stalls again
    again = make_stalled_cart(half, visitor_id="v2", external_id="c-again")
    assignment = shopper_arms(site=half, carts=[again])[again.pk]
    # then: the earlier decision's arm; the recorded ones are untouched
    assert assignment.arm == _arm(first_id)
    assert dict(Intervention.objects.values_list("cart_id", "arm")) == recorded


@pytest.mark.django_db
def test_the_sweep_records_the_arm_and_a_holdout_shopper_is_held_out_on_every_cart(half):
    # given: 16 shoppers with two carts each, the second stalling a day after the first
    now = timezone.now()
    for n in range(16):
        make_stalled_cart(
            half, visitor_id=f"v{n}", external_id=f"first-{n}", now=now - timedelta(days=1)
        )
    stall_sweep(now=now - timedelta(days=1))
    for n in range(16):
        make_stalled_cart(half, visitor_id=f"v{n}", external_id=f"second-{n}", now=now)
    # when
    stall_sweep(now=now)
    # then: both carts of each shopper are in one arm, and the decision follows it
    rows = Intervention.objects.values_list("visitor_id", "arm", "decision", "returning_shopper")
    by_visitor: dict[str, set[str]] = {}
    for visitor_id, arm, decision, _returning in rows:
        by_visitor.setdefault(visitor_id, set()).add(arm)
        if decision != Decision.SUPPRESSED:
            assert decision == (Decision.HELD_OUT if arm == Arm.HOLDOUT else Decision.INVITED)
    assert all(len(arms) == 1 for arms in by_visitor.values())
    returning = {(v, r) for v, _a, _d, r in rows}
    assert len(returning) == 32  # every shopper: once new, once returning
    assert {next(iter(a)) for a in by_visitor.values()} == {Arm.HOLDOUT, Arm.OUTREACH}


@pytest.mark.django_db
def test_the_migration_records_the_arm_each_intervention_was_decided_in(half):
    # given: interventions from before the arm was recorded
    migration = importlib.import_module("cartassist.migrations.0014_intervention_arm_by_shopper")
    first_id, other_id = _pair_with_different_arms()
    now = timezone.now()
    a = make_stalled_cart(half, visitor_id="v1", external_id=first_id)
    held = make_intervention(a, decision=Decision.HELD_OUT, now=now - timedelta(days=3))
    b = make_stalled_cart(half, visitor_id="v1", external_id=other_id)
    suppressed = make_intervention(b, decision=Decision.SUPPRESSED, now=now - timedelta(days=2))
    c = make_stalled_cart(half, visitor_id="v9", external_id="alone")
    invited = make_intervention(c, decision=Decision.INVITED, now=now - timedelta(days=1))
    Intervention.objects.update(arm="", returning_shopper=False)
    # when
    migration.arms_backfill(apps, None)
    # then: invited → outreach, held out → holdout (figures unchanged); a suppressed one
    # follows its shopper's randomised arm; returning from the second intervention on
    got = {i.pk: (i.arm, i.returning_shopper) for i in Intervention.objects.all()}
    assert got == {
        held.pk: (Arm.HOLDOUT, False),
        suppressed.pk: (Arm.HOLDOUT, True),
        invited.pk: (Arm.OUTREACH, False),
    }
