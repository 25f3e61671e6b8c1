"""Two agents spend the last of a policy's daily budget at the same moment on PostgreSQL:
exactly one offer succeeds and the counter never passes the cap (docs/adr/0007)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from agents.models import AgentProfile
from policies.models import BudgetCounter, BudgetPeriod, Offer, OfferStatus
from policies.services.context import period_starts
from policies.services.offers import OfferRefused, offer_authorize
from tests.fixtures.agents import make_agent
from tests.fixtures.policies import Chat, make_chat, make_policy
from tests.fixtures.sites import make_site, make_stall_rules

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 5
AMOUNT = Decimal("5.00")


def offer_at_once(chats: list[Chat]) -> tuple[list[Offer], list[BaseException]]:
    """Every chat's agent offers AMOUNT at the same moment, each on its own connection."""
    offers: list[Offer] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(chats))

    def agent_offers(chat: Chat) -> None:
        try:
            start.wait(timeout=30)
            offers.append(
                offer_authorize(
                    agent=chat.agent,
                    conversation_id=chat.conversation.pk,
                    kind="waive_delivery",
                    amount=str(AMOUNT),
                    now=timezone.now(),
                )
            )
        except BaseException as exc:  # collected: refusals expected, anything else fails
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=agent_offers, args=(chat,)) for chat in chats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return offers, errors


def test_two_agents_spending_the_last_of_the_budget_exactly_one_succeeds(postgres):
    # given: a daily budget of 20.00 with 5.00 left, the amount each agent offers
    site = make_site()
    make_stall_rules(site)
    policy = make_policy(site, daily_budget=Decimal("20.00"))
    today, _ = period_starts(timezone.now(), site.timezone)
    counter = BudgetCounter.objects.create(
        policy=policy, period=BudgetPeriod.DAY, period_start=today, agent_key=0
    )
    agents: list[AgentProfile] = [make_agent(site, name="Ada"), make_agent(site, name="Bob")]
    visitors = iter(range(1000))

    for round_number in range(1, ROUNDS + 1):
        # given: both agents chat with a shopper balking at the delivery charge, and the
        # budget has exactly one offer left
        chats = [make_chat(site, agent=a, visitor_id=f"visitor-{next(visitors)}") for a in agents]
        BudgetCounter.objects.filter(pk=counter.pk).update(spent=Decimal("15.00"))

        # when
        offers, errors = offer_at_once(chats)

        # then
        assert len(offers) == 1, (round_number, errors)
        assert [type(e) for e in errors] == [OfferRefused], errors
        counter.refresh_from_db()
        assert counter.spent == Decimal("20.00")
        assert BudgetCounter.objects.filter(policy=policy, period=BudgetPeriod.DAY).count() == 1

    assert Offer.objects.filter(status=OfferStatus.OFFERED).count() == ROUNDS
