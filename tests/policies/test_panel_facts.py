"""The remedies panel's facts from its one PostgreSQL statement equal the ORM's
(``policies/services/panel.py``, ADR 0026), on random data: shoppers with several carts
(by visitor and by verified customer), grants under several policies, interventions in
and out of the farming window, converted carts, offers in every status across chats and
carts, budgets with spend, chats without a cart or without an invitation, and agents
and supervisors who may or may not see each chat. The panels built on them are equal."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agents.errors import NotFound
from agents.models import AgentProfile, Conversation
from cartassist.flows.console import console_remedies
from cartassist.models import Cart, CartStatus, Site
from policies.models import (
    BudgetCounter,
    BudgetPeriod,
    Grant,
    Offer,
    OfferStatus,
    Policy,
    PolicyVersion,
)
from policies.services.context import period_starts
from policies.services.offers import offer_payload
from policies.services.panel import panel_facts_orm, panel_facts_postgresql
from policies.services.remedies import PanelFacts, panel_remedies
from tests.fixtures.agents import (
    make_agent,
    make_conversation,
    make_intervention,
    make_invitation,
    make_stalled_cart,
)
from tests.fixtures.policies import make_policy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

KINDS = ["waive_delivery", "reduce_delivery", "discount", "free_gift", "hold_stock"]
_tokens = itertools.count(1)


def comparable(facts: PanelFacts) -> dict[str, Any]:
    """The facts with the offers as their payloads (an ``Offer`` compares by id only)."""
    values = {name: getattr(facts, name) for name in PanelFacts.__dataclass_fields__}
    values["offers"] = [offer_payload(offer) for offer in facts.offers]
    return values


def outcome(read: Any, agent: AgentProfile, conversation_id: int, now: datetime) -> Any:
    try:
        return comparable(read(agent=agent, conversation_id=conversation_id, now=now))
    except NotFound as error:
        return ("not_found", error.code, str(error.message))


def random_offer(
    rng: random.Random,
    *,
    conversation: Conversation,
    cart: Cart,
    agent: AgentProfile,
    version: PolicyVersion,
    now: datetime,
) -> Offer:
    kind = rng.choice(KINDS)
    amount = None if kind == "hold_stock" else Decimal(rng.randint(1, 2000)) / 100
    return Offer.objects.create(
        site_id=cart.site_id,
        conversation=conversation,
        cart=cart,
        agent=agent,
        policy_version=version,
        kind=kind,
        amount=amount,
        currency=cart.currency,
        gift_sku="GIFT-1" if kind == "free_gift" else "",
        hold_hours=rng.choice([1, 24, 48]) if kind == "hold_stock" else None,
        exclusive=rng.random() < 0.3,
        total_before=Decimal("74.900"),
        total_after=Decimal("74.900") - (amount or 0),
        status=rng.choice(list(OfferStatus)),
        refusal_reason=rng.choice(["", "The cart changed."]),
        refusal_code=rng.choice(["", "cart_changed"]),
        created_at=now - timedelta(minutes=rng.randint(0, 600), microseconds=rng.randint(0, 999)),
        expires_at=now + timedelta(minutes=rng.randint(-60, 60), microseconds=rng.randint(1, 999)),
    )


def random_grant(rng: random.Random, offer: Offer, *, now: datetime) -> None:
    Grant.objects.create(
        offer=offer,
        site_id=offer.site_id,
        cart=offer.cart,
        policy_version=offer.policy_version,
        token_id=f"grant-{next(_tokens)}",
        kind=offer.kind,
        amount=offer.amount,
        currency=offer.currency,
        issued_at=now - timedelta(days=rng.randint(0, 90), microseconds=rng.randint(0, 999_999)),
        expires_at=now + timedelta(hours=1),
    )


def random_site(rng: random.Random, now: datetime, site: Site) -> list[Conversation]:
    """Policies with budgets and spend, shoppers with carts, chats, offers and grants."""
    policies = [
        make_policy(
            site,
            name=f"Policy {n}",
            priority=rng.randint(1, 5),
            stall_reasons=rng.choice([[], ["shipping_shock"]]),
            min_cart_value=rng.choice([None, Decimal(30), Decimal(100)]),
            discount=rng.random() < 0.5,
            discount_max_percent=Decimal(10),
            daily_budget=rng.choice([None, Decimal("8.00"), Decimal("50.00")]),
            monthly_budget=rng.choice([None, Decimal("500.00")]),
            per_agent_daily_cap=rng.choice([None, Decimal("20.00")]),
        )
        for n in range(rng.randint(1, 6))
    ]
    today, month = period_starts(now, site.timezone)
    for policy in policies:
        for period, start in [(BudgetPeriod.DAY, today), (BudgetPeriod.MONTH, month)]:
            if rng.random() < 0.6:
                BudgetCounter.objects.create(
                    policy=policy,
                    period=period,
                    period_start=start,
                    spent=Decimal(rng.randint(0, 9)),
                )
    versions = [PolicyVersion.objects.get(pk=p.current_version_id) for p in policies]
    agents = [make_agent(site, name=f"Agent {n}", now=now) for n in range(2)]
    chats = []
    for shopper in range(rng.randint(2, 4)):
        visitor = f"visitor-{shopper}"
        customer = rng.choice(["", f"customer-{shopper % 2}"])
        carts = []
        for n in range(rng.randint(1, 4)):
            cart = make_stalled_cart(
                site,
                visitor_id=rng.choice([visitor, f"{visitor}-device-{n}"]),
                subtotal=rng.choice(["25.00", "60.00", "150.00"]),
                shipping_fee=rng.choice([None, "4.90", "14.90"]),
                now=now,
            )
            for k in range(rng.randint(0, 2)):
                hours = rng.choice([1, 30])
                make_intervention(cart, now=now - timedelta(hours=hours, minutes=k + 1))
            Cart.objects.filter(pk=cart.pk).update(
                customer_id=customer,
                customer_verified=bool(customer) and rng.random() < 0.7,
                customer_segment=rng.choice(["", "", "vip"]),
                status=rng.choice([CartStatus.STALLED, CartStatus.STALLED, CartStatus.CONVERTED]),
                order_id=rng.choice(["", "order-7"]),
                shipping_country=rng.choice(["", "DE", "FR"]),
                lines=[{"sku": "A-1", "quantity": 2, "unit_price": "30.00", "category": "shoes"}],
            )
            cart.refresh_from_db()
            carts.append(cart)
        for cart in carts:
            agent = rng.choice(agents)
            if rng.random() < 0.7:
                invitation = make_invitation(cart, now=now)
                conversation = make_conversation(
                    site, visitor_id=cart.visitor_id, agent=agent, cart=cart, now=now
                )
                Conversation.objects.filter(pk=conversation.pk).update(invitation=invitation)
            else:
                conversation = make_conversation(
                    site, visitor_id=cart.visitor_id, agent=agent, cart=cart, now=now
                )
            chats.append(conversation)
            for _ in range(rng.randint(0, 4)):
                offer = random_offer(
                    rng,
                    conversation=rng.choice(chats),
                    cart=rng.choice(carts),
                    agent=agent,
                    version=rng.choice(versions),
                    now=now,
                )
                if rng.random() < 0.4:
                    random_grant(rng, offer, now=now)
    chats.append(make_conversation(site, agent=agents[0], now=now))  # no cart
    return chats


@pytest.mark.parametrize("seed", range(6))
def test_the_one_statement_reads_what_the_orm_reads(site, seed):
    # given
    rng = random.Random(seed)
    now = timezone.now()
    chats = random_site(rng, now, site)
    supervisor = make_agent(site, name="Sue", supervisor=True, now=now)
    stranger = make_agent(site, name="Other", now=now)
    chats.append(make_conversation(site, agent=stranger, now=now))
    agents = list(AgentProfile.objects.filter(site=site).order_by("pk"))
    assert supervisor in agents

    compared = 0
    for chat, agent in itertools.product(chats, agents):
        # when
        orm = outcome(panel_facts_orm, agent, chat.pk, now)
        sql = outcome(panel_facts_postgresql, agent, chat.pk, now)
        # then
        assert sql == orm, (chat.pk, agent.pk)
        compared += isinstance(orm, dict)
        if isinstance(orm, dict):
            facts = panel_facts_orm(agent=agent, conversation_id=chat.pk, now=now)
            expected = panel_remedies(facts=facts, agent=agent, now=now)
            expected["offers"] = orm["offers"]
            assert console_remedies(agent=agent, conversation_id=chat.pk, now=now) == expected
    assert compared >= 3
    # a chat of another site is nobody's here
    with pytest.raises(NotFound):
        panel_facts_postgresql(agent=agents[0], conversation_id=chats[-1].pk + 10_000, now=now)


def test_a_shopper_with_every_fact_is_read_alike(site):
    # given: a returning VIP shopper flagged for farming, with grants under two policies
    now = timezone.now()
    rng = random.Random(99)
    chats = random_site(rng, now, site)
    chat = next(c for c in chats if c.cart_id is not None)
    Cart.objects.filter(pk=chat.cart_id).update(status=CartStatus.STALLED)
    cart = Cart.objects.get(pk=chat.cart_id)
    others = [make_stalled_cart(site, visitor_id=cart.visitor_id, now=now) for _ in range(3)]
    for n, other in enumerate(others):
        make_intervention(other, now=now - timedelta(minutes=n + 5))
    Cart.objects.filter(pk=others[0].pk).update(status=CartStatus.CONVERTED)
    policies = list(Policy.objects.filter(site=site))
    for policy in policies[:2]:
        version = PolicyVersion.objects.get(pk=policy.current_version_id)
        offer = random_offer(
            rng, conversation=chat, cart=others[1], agent=chat.agent, version=version, now=now
        )
        random_grant(rng, offer, now=now)
    agent = AgentProfile.objects.get(pk=chat.agent_id)

    # when
    orm = panel_facts_orm(agent=agent, conversation_id=chat.pk, now=now)
    sql = panel_facts_postgresql(agent=agent, conversation_id=chat.pk, now=now)

    # then
    assert comparable(sql) == comparable(orm)
    assert orm.shopper.flagged_for_farming
    assert orm.shopper.segment.value == "returning"
    assert len(orm.shopper.last_granted_at) == min(2, len(policies))
