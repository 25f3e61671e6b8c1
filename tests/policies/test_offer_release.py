"""A reservation is released in the transaction that finishes the offer, so no finished
offer keeps budget; the housekeeping repair pass releases any left behind; one offer
that fails never stops the pass for the others (docs/adr/0009)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

import policies.services.offers as offers_module
from agents.models import Conversation, ConversationStatus
from cartassist.flows.housekeeping import chat_housekeeping
from cartassist.models import Cart, Site
from policies.models import AuditEntry, BudgetCounter, BudgetPeriod, Offer, OfferStatus, Policy
from policies.services.offers import (
    offer_accept,
    offer_authorize,
    offer_decline,
    offer_review,
    offers_expire,
)
from tests.fixtures.agents import make_agent
from tests.fixtures.policies import Chat, counters, make_chat, make_policy
from tests.fixtures.sites import make_site, make_stall_rules

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

DAY, MONTH, AGENT_DAY = BudgetPeriod.DAY, BudgetPeriod.MONTH, BudgetPeriod.AGENT_DAY


def authorize(chat: Chat, amount: str = "9.90") -> Offer:
    return offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount=amount,
        now=timezone.now(),
    )


def held(policy: Policy, chat: Chat, amount: str) -> dict[tuple[str, int], Decimal]:
    value = Decimal(amount).quantize(Decimal("0.001"))
    return {(AGENT_DAY, chat.agent.pk): value, (DAY, 0): value, (MONTH, 0): value}


class ReleaseFails(Exception):
    pass


@pytest.fixture
def release_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the offer's state changed, at the moment its budget is released."""

    def fail(**kwargs: Any) -> bool:
        raise ReleaseFails

    monkeypatch.setattr(offers_module, "reservation_release", fail)


def decline(site: Site, chat: Chat, offer: Offer) -> Any:
    return offer_decline(
        site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=timezone.now()
    )


def deny(site: Site, chat: Chat, offer: Offer) -> Any:
    supervisor = make_agent(site, name="Sam", supervisor=True)
    return offer_review(supervisor=supervisor, offer_id=offer.pk, approve=False, now=timezone.now())


def refused_accept(site: Site, chat: Chat, offer: Offer) -> Any:
    Cart.objects.filter(pk=chat.cart.pk).update(subtotal=Decimal("20.00"))
    return offer_accept(
        site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=timezone.now()
    )


def expire(site: Site, chat: Chat, offer: Offer) -> Any:
    result = offers_expire(now=offer.expires_at + timedelta(seconds=1))
    assert (result.done, result.failed) == (0, 1)
    raise ReleaseFails  # as the other paths do: the failure was logged and counted


@pytest.mark.parametrize(
    ("finish", "policy_overrides"),
    [
        (decline, {}),
        (deny, {"approval_above": Decimal("5.00")}),
        (refused_accept, {}),
        (expire, {}),
    ],
    ids=["decline", "deny", "refused-accept", "expire"],
)
def test_a_failure_at_the_release_leaves_the_offer_open_with_its_budget(
    site: Site,
    release_fails: None,
    finish: Callable[[Site, Chat, Offer], Any],
    policy_overrides: dict[str, Any],
) -> None:
    # given: an open offer holding 9.90 of the policy's budgets
    policy = make_policy(site, **policy_overrides)
    chat = make_chat(site)
    offer = authorize(chat)
    status, audit_entries = offer.status, AuditEntry.objects.count()

    # when: the release fails after the offer's state was changed
    with pytest.raises(ReleaseFails):
        finish(site, chat, offer)

    # then: the state change was rolled back with it; the open offer still holds the budget
    offer.refresh_from_db()
    assert (offer.status, offer.released_at) == (status, None)
    assert counters(policy) == held(policy, chat, "9.90")
    assert AuditEntry.objects.count() == audit_entries


def test_housekeeping_releases_a_reservation_a_finished_offer_still_holds(site: Site) -> None:
    # given: a declined offer whose release never happened (as an older version could
    # leave it), an offer still open and an accepted one
    policy = make_policy(site, daily_budget=Decimal("100.00"))
    leaked_chat = make_chat(site, visitor_id="visitor-1")
    leaked = authorize(leaked_chat, "9.90")
    Offer.objects.filter(pk=leaked.pk).update(status=OfferStatus.DECLINED)
    open_offer = authorize(make_chat(site, agent=leaked_chat.agent, visitor_id="visitor-2"), "2.00")
    accepted = authorize(make_chat(site, agent=leaked_chat.agent, visitor_id="visitor-3"), "3.00")
    offer_accept(site_id=site.pk, visitor_id="visitor-3", offer_id=accepted.pk, now=timezone.now())
    now = timezone.now()

    # when
    result = chat_housekeeping(now=now)
    again = chat_housekeeping(now=now)

    # then: only the leaked reservation is given back, once
    assert (result.reservations_released, result.failures) == (1, 0)
    assert (again.reservations_released, again.failures) == (0, 0)
    assert Offer.objects.get(pk=leaked.pk).released_at == now
    assert Offer.objects.filter(released_at__isnull=False).count() == 1
    assert counters(policy) == held(policy, leaked_chat, "5.00")
    assert (
        Offer.objects.get(pk=open_offer.pk).status,
        Offer.objects.get(pk=accepted.pk).status,
    ) == (
        OfferStatus.OFFERED,
        OfferStatus.ACCEPTED,
    )


def test_one_offer_that_cannot_be_released_does_not_stop_the_housekeeping_pass() -> None:
    # given: two shops with an offer each, both past their expiry; the first shop's
    # counters were cut below its offer's reservation (the release breaks their check
    # constraint); a leaked reservation in each shop likewise
    sites = []
    for name in ("First", "Second"):
        site = make_site(name=name)
        make_stall_rules(site)
        sites.append(site)
    policies = [make_policy(site) for site in sites]
    chats = [make_chat(site) for site in sites]
    expiring = [authorize(chat) for chat in chats]
    leaked = [
        authorize(make_chat(s, agent=c.agent, visitor_id="visitor-9"), "1.00")
        for s, c in zip(sites, chats, strict=True)
    ]
    Offer.objects.filter(pk__in=[o.pk for o in leaked]).update(status=OfferStatus.DECLINED)
    BudgetCounter.objects.filter(policy=policies[0]).update(spent=Decimal("0.50"))
    now = expiring[1].expires_at + timedelta(seconds=1)  # every shopper left since

    # when
    result = chat_housekeeping(now=now)

    # then: the second shop's offers are done, the first shop's wait as they were
    assert (result.offers_expired, result.reservations_released) == (1, 1)
    assert result.failures == 2
    assert [Offer.objects.get(pk=o.pk).status for o in expiring] == [
        OfferStatus.OFFERED,
        OfferStatus.EXPIRED,
    ]
    assert [Offer.objects.get(pk=o.pk).released_at for o in leaked] == [None, now]
    assert counters(policies[0]) == {
        (AGENT_DAY, chats[0].agent.pk): Decimal("0.500"),
        (DAY, 0): Decimal("0.500"),
        (MONTH, 0): Decimal("0.500"),
    }
    assert counters(policies[1]) == held(policies[1], chats[1], "0.00")
    # and the steps after the offers still ran: the four chats whose shopper left closed
    assert result.conversations_timed_out == 4
    assert set(Conversation.objects.values_list("status", flat=True)) == {ConversationStatus.CLOSED}
