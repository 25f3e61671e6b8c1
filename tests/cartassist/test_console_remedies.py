"""The console's remedies panel (``cartassist/flows/console.py::console_remedies``): a
fixed number of queries whatever the number of policies, and the chat's offers and the
cart's live ones read together (issue 13, ADR 0022)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cartassist.flows.console import console_remedies
from cartassist.models import Cart, CartStatus
from policies.models import Offer, OfferStatus
from policies.services.offers import offer_authorize
from tests.fixtures.agents import make_conversation, make_intervention, make_stalled_cart
from tests.fixtures.policies import Chat, make_chat, make_policy

# Real commits: the policy cache keeps nothing a test's open transaction changed.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("chat_settings")]


def offer(chat: Chat, *, conversation_id: int, kind: str, amount: str) -> Offer:
    """The chat's agent offers ``kind`` up to ``amount`` in the chat ``conversation_id``."""
    return offer_authorize(
        agent=chat.agent,
        conversation_id=conversation_id,
        kind=kind,
        amount=amount,
        now=timezone.now(),
    )


def panel_queries(chat: Chat) -> list[str]:
    console_remedies(agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        console_remedies(agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now())
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize("policies", [1, 40])
def test_the_panel_makes_three_queries_whatever_the_number_of_policies(site, policies):
    # given: policies without budgets (no spend to read), one offer already made
    for n in range(policies):
        make_policy(site, name=f"Policy {n}", priority=n)
    chat = make_chat(site)
    offer(chat, conversation_id=chat.conversation.pk, kind="waive_delivery", amount="5.00")
    # when
    queries = panel_queries(chat)
    # then: the chat, the shopper, the offers
    assert len(queries) == 3, queries


def test_a_policy_with_a_budget_that_applies_adds_the_spend_query(site):
    make_policy(site, daily_budget=Decimal("50.00"))
    chat = make_chat(site)

    queries = panel_queries(chat)

    assert len(queries) == 4, queries
    assert 'FROM "policies_budgetcounter"' in queries[-1]


def test_the_panel_shows_this_chats_offers_and_stacks_on_the_carts_live_ones(site):
    # given: the cart's delivery waived from another chat, then this chat's own offer
    # declined (not live: it does not count for stacking, but the chat shows it)
    make_policy(site, stall_reasons=[], discount=True, discount_max_percent=Decimal("10"))
    chat = make_chat(site)
    other_chat = make_conversation(site, agent=chat.agent, cart=chat.cart)
    waived = offer(chat, conversation_id=other_chat.pk, kind="waive_delivery", amount="5.00")
    discount = offer(chat, conversation_id=chat.conversation.pk, kind="discount", amount="1.00")
    Offer.objects.filter(pk=discount.pk).update(status=OfferStatus.DECLINED)
    # when
    panel = console_remedies(
        agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
    )
    # then
    assert [offer["id"] for offer in panel["offers"]] == [discount.pk]
    by_kind = {item["kind"]: item for item in panel["remedies"]}
    assert by_kind["waive_delivery"]["reason_code"] == "already_offered"
    assert by_kind["discount"]["allowed"] is True
    assert waived.pk not in [offer["id"] for offer in panel["offers"]]


def test_a_returning_farming_shopper_is_read_in_the_one_shopper_query(site):
    # given: the shopper converted another cart and stalled three carts today
    chat = make_chat(site)
    converted = make_stalled_cart(site, visitor_id="visitor-1", external_id="old")
    stalled = [make_stalled_cart(site, visitor_id="visitor-1", external_id=f"s{n}") for n in (1, 2)]
    for cart in [chat.cart, converted, *stalled]:
        make_intervention(cart)
    Cart.objects.filter(pk=converted.pk).update(status=CartStatus.CONVERTED)
    # when
    panel = console_remedies(
        agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
    )
    # then
    assert (panel["segment"], panel["flagged_for_farming"]) == ("returning", True)
