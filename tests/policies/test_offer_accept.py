"""Acceptance re-checks the offer against the cart as it is now: a changed cart refuses
with the reason and gives the budget back, never a wrong or negative total."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from cartassist.models import Cart
from policies.models import AuditAction, AuditEntry, BudgetPeriod, Grant, Offer, OfferStatus
from policies.services.offers import offer_accept, offer_authorize, reservation_release
from tests.fixtures.policies import counters, make_chat, make_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

DAY, MONTH, AGENT_DAY = BudgetPeriod.DAY, BudgetPeriod.MONTH, BudgetPeriod.AGENT_DAY


def offered(site, kind="waive_delivery", amount="9.90", **policy):
    policy = make_policy(site, **policy)
    chat = make_chat(site)
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind=kind,
        amount=amount,
        now=timezone.now(),
    )
    return policy, chat, offer


def accept(site, offer, visitor_id="visitor-1"):
    return offer_accept(
        site_id=site.pk, visitor_id=visitor_id, offer_id=offer.pk, now=timezone.now()
    )


def test_accepting_issues_one_grant_and_keeps_the_amount_spent(site):
    # given
    policy, chat, offer = offered(site)

    # when
    accepted = accept(site, offer)
    again = accept(site, offer)

    # then
    assert accepted.status == again.status == OfferStatus.ACCEPTED
    assert (accepted.total_before, accepted.total_after) == (Decimal("69.900"), Decimal("60.000"))
    grant = Grant.objects.get()
    assert (grant.offer_id, grant.kind, grant.amount, grant.currency) == (
        offer.pk,
        "waive_delivery",
        Decimal("9.900"),
        "EUR",
    )
    assert grant.policy_version_id == policy.current_version_id
    assert counters(policy)[(DAY, 0)] == Decimal("9.900")
    assert Offer.objects.get(pk=offer.pk).released_at is None


def test_cart_below_the_policy_minimum_refuses_acceptance_and_releases_the_budget(site):
    # given
    policy, chat, offer = offered(site)  # the policy needs a cart of at least 30.00
    Cart.objects.filter(pk=chat.cart.pk).update(subtotal=Decimal("20.00"))

    # when
    refused = accept(site, offer)
    released_again = reservation_release(offer=refused, now=timezone.now())

    # then
    assert refused.status == OfferStatus.REFUSED_ON_ACCEPT
    assert refused.refusal_reason == (
        "Your cart has changed: Cart 20.00 EUR is below the 30.00 EUR policy "
        "“Free delivery rescue” requires."
    )
    assert refused.refusal_code == "cart_changed"
    assert released_again is False
    assert Grant.objects.count() == 0
    assert counters(policy) == {
        (AGENT_DAY, chat.agent.pk): Decimal("0.000"),
        (DAY, 0): Decimal("0.000"),
        (MONTH, 0): Decimal("0.000"),
    }
    assert AuditEntry.objects.filter(action=AuditAction.ACCEPT_REFUSED).count() == 1


def test_lower_delivery_charge_than_the_waived_amount_refuses_acceptance(site):
    # given
    policy, chat, offer = offered(site)
    Cart.objects.filter(pk=chat.cart.pk).update(shipping_fee=Decimal("4.90"))

    # when
    refused = accept(site, offer)

    # then
    assert refused.status == OfferStatus.REFUSED_ON_ACCEPT
    assert refused.refusal_reason == "Your delivery charge has changed; ask for a new offer."
    assert refused.refusal_code == "delivery_changed"
    assert Grant.objects.count() == 0
    assert counters(policy)[(DAY, 0)] == Decimal("0.000")


def test_delivery_charge_removed_refuses_acceptance(site):
    # given
    policy, chat, offer = offered(site)
    Cart.objects.filter(pk=chat.cart.pk).update(shipping_fee=None)

    # when
    refused = accept(site, offer)

    # then
    assert refused.status == OfferStatus.REFUSED_ON_ACCEPT
    assert refused.refusal_reason == "Your delivery charge has changed; ask for a new offer."
    assert refused.refusal_code == "delivery_changed"
    assert Grant.objects.count() == 0


def test_higher_delivery_charge_still_accepts_with_the_offered_amount(site):
    # given
    policy, chat, offer = offered(site)
    Cart.objects.filter(pk=chat.cart.pk).update(shipping_fee=Decimal("12.90"))

    # when
    accepted = accept(site, offer)

    # then
    assert accepted.status == OfferStatus.ACCEPTED
    assert (accepted.total_before, accepted.total_after) == (Decimal("72.900"), Decimal("63.000"))
    assert Grant.objects.get().amount == Decimal("9.900")


def test_another_visitor_cannot_accept_the_offer(site):
    # given
    policy, chat, offer = offered(site)

    # when
    from agents.errors import ChatError

    with pytest.raises(ChatError) as exc_info:
        accept(site, offer, visitor_id="visitor-2")

    # then
    assert exc_info.value.code == "not_found"
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.OFFERED
    assert Grant.objects.count() == 0
