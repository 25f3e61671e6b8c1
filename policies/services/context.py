"""Fresh snapshots for the engine: the cart, the shopper, the spend so far, the stall
reason (selectors). Every evaluation, live or simulated, gets its context from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.db.models import Max, Q

from agents.models import Conversation
from cartassist.carts.models import Cart, CartStatus, Intervention
from policies.engine import (
    AgentFacts,
    CartFacts,
    CartLine,
    EvaluationContext,
    ExistingRemedy,
    PolicySpend,
    RemedyKind,
    Segment,
    ShopperFacts,
)
from policies.models import BudgetCounter, BudgetPeriod, Grant, Offer, OfferStatus

LIVE_OFFER_STATUSES = [OfferStatus.PENDING_APPROVAL, OfferStatus.OFFERED, OfferStatus.ACCEPTED]
# A shopper with this many stalled carts within FARMING_WINDOW is flagged to agents.
FARMING_THRESHOLD = 3
FARMING_WINDOW = timedelta(hours=24)


def period_starts(now: datetime, timezone: str) -> tuple[date, date]:
    """Today and the first of this month, in the site's time zone."""
    local = now.astimezone(ZoneInfo(timezone)).date()
    return local, local.replace(day=1)


def shopper_carts_q(cart: Cart) -> Q:
    """All carts of the same shopper: same visitor id, or same verified customer."""
    q = Q(site_id=cart.site_id, visitor_id=cart.visitor_id)
    if cart.customer_id and cart.customer_verified:
        q |= Q(site_id=cart.site_id, customer_id=cart.customer_id, customer_verified=True)
    return q


def _lines(cart: Cart) -> tuple[CartLine, ...]:
    lines = []
    for raw in cart.lines or []:
        try:
            lines.append(
                CartLine(
                    sku=str(raw.get("sku", "")),
                    quantity=int(raw.get("quantity", 0)),
                    unit_price=Decimal(str(raw.get("unit_price", "0"))),
                    category=str(raw.get("category", "")),
                )
            )
        except (InvalidOperation, TypeError, ValueError, AttributeError):
            continue  # stored lines were validated on the way in; never fail an offer on one
    return tuple(lines)


def shopper_facts(cart: Cart, now: datetime) -> ShopperFacts:
    carts = Cart.objects.filter(shopper_carts_q(cart))
    if cart.customer_segment == "vip":
        segment = Segment.VIP
    elif carts.filter(status=CartStatus.CONVERTED).exclude(pk=cart.pk).exists():
        segment = Segment.RETURNING
    else:
        segment = Segment.NEW
    last_granted = (
        Grant.objects.filter(cart__in=carts)
        .values("policy_version__policy_id")
        .annotate(at=Max("issued_at"))
    )
    stalled_recently = (
        Intervention.objects.filter(cart__in=carts, decided_at__gte=now - FARMING_WINDOW)
        .values("cart_id")
        .distinct()
        .count()
    )
    return ShopperFacts(
        segment=segment,
        last_granted_at=tuple(
            (row["policy_version__policy_id"], row["at"]) for row in last_granted
        ),
        flagged_for_farming=stalled_recently >= FARMING_THRESHOLD,
    )


def spend_snapshot(
    *, policy_ids: list[int], agent_id: int, now: datetime, timezone: str
) -> tuple[tuple[int, PolicySpend], ...]:
    """The spend so far of ``policy_ids`` (today, this month, the agent today), read live:
    never cached (ADR 0020). No query for no policies."""
    if not policy_ids:
        return ()
    today, month = period_starts(now, timezone)
    counters = BudgetCounter.objects.filter(policy_id__in=policy_ids).filter(
        Q(period=BudgetPeriod.DAY, period_start=today, agent_key=0)
        | Q(period=BudgetPeriod.MONTH, period_start=month, agent_key=0)
        | Q(period=BudgetPeriod.AGENT_DAY, period_start=today, agent_key=agent_id)
    )
    spend: dict[int, dict[str, Decimal]] = {}
    for counter in counters:
        spend.setdefault(counter.policy_id, {})[counter.period] = counter.spent
    return tuple(
        (
            policy_id,
            PolicySpend(
                today=values.get(BudgetPeriod.DAY, Decimal(0)),
                month=values.get(BudgetPeriod.MONTH, Decimal(0)),
                agent_today=values.get(BudgetPeriod.AGENT_DAY, Decimal(0)),
            ),
        )
        for policy_id, values in sorted(spend.items())
    )


def existing_remedies(
    cart: Cart, *, exclude_offer_id: int | None = None
) -> tuple[ExistingRemedy, ...]:
    offers = Offer.objects.filter(cart=cart, status__in=LIVE_OFFER_STATUSES)
    if exclude_offer_id is not None:
        offers = offers.exclude(pk=exclude_offer_id)
    return tuple(ExistingRemedy(RemedyKind(o.kind), o.exclusive) for o in offers.order_by("pk"))


class AgentLike(Protocol):
    """An agent as the engine sees it: an ``AgentProfile`` or a ``StandInAgent``."""

    @property
    def pk(self) -> Any: ...

    @property
    def is_supervisor(self) -> bool: ...


@dataclass(frozen=True)
class StandInAgent:
    """No particular agent (the policy simulator): no personal spend (pk 0)."""

    pk: int = 0
    is_supervisor: bool = False


def cart_facts(cart: Cart) -> CartFacts:
    return CartFacts(
        value=cart.subtotal,
        currency=cart.currency,
        stage=cart.stage,
        delivery_charge=cart.shipping_fee,
        lines=_lines(cart),
        country=cart.shipping_country,
    )


def evaluation_context(
    *,
    cart: Cart,
    agent: AgentLike,
    stall_reason: str,
    now: datetime,
    policy_ids: list[int],
    timezone: str,
    exclude_offer_id: int | None = None,
) -> EvaluationContext:
    """Everything ``evaluate`` needs, read fresh from the database."""
    return EvaluationContext(
        cart=cart_facts(cart),
        shopper=shopper_facts(cart, now),
        stall_reason=stall_reason,
        agent=AgentFacts(agent_id=agent.pk, is_supervisor=agent.is_supervisor),
        now=now,
        spend=spend_snapshot(policy_ids=policy_ids, agent_id=agent.pk, now=now, timezone=timezone),
        existing=existing_remedies(cart, exclude_offer_id=exclude_offer_id),
    )


def entered_cart_context(
    *,
    cart: CartFacts,
    segment: Segment,
    agent: AgentLike,
    stall_reason: str,
    now: datetime,
    policy_ids: list[int],
    timezone: str,
) -> EvaluationContext:
    """The context of a cart that is not stored (typed into the policy simulator): the
    given facts, a shopper with no history, nothing offered yet, and the real spend."""
    return EvaluationContext(
        cart=cart,
        shopper=ShopperFacts(segment=segment),
        stall_reason=stall_reason,
        agent=AgentFacts(agent_id=agent.pk, is_supervisor=agent.is_supervisor),
        now=now,
        spend=spend_snapshot(policy_ids=policy_ids, agent_id=agent.pk, now=now, timezone=timezone),
    )


def conversation_stall_reason(conversation: Conversation) -> str:
    """The stall reason the engine is given in a chat: the one of the invitation the
    shopper answered; none for a chat the shopper started."""
    invitation = conversation.invitation
    return invitation.stall_reason if invitation else ""


def cart_stall_reason(cart: Cart) -> str:
    """The stall reason an agent chatting about ``cart`` is given: that of its latest
    chat (``conversation_stall_reason``); with no chat yet, the one the sweep recorded
    last, which an invitation sent now would carry."""
    conversation = (
        Conversation.objects.filter(cart=cart)
        .select_related("invitation")
        .order_by("-created_at", "-pk")
        .first()
    )
    if conversation is not None:
        return conversation_stall_reason(conversation)
    last = (
        Intervention.objects.filter(cart=cart)
        .order_by("-decided_at", "-pk")
        .values_list("stall_reason", flat=True)
        .first()
    )
    return last or ""
