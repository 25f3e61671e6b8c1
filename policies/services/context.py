"""Fresh snapshots for the engine: the cart, the shopper, the spend so far, the stall
reason (selectors). Every evaluation, live or simulated, gets its context from here."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Max, Q

from agents.models import Conversation
from cartassist.carts.models import Cart, CartStatus, Intervention
from cartassist.core.sql import PreparedStatement, sql_column, sql_table
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
from policies.models import BudgetCounter, BudgetPeriod, Offer, OfferStatus

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


def _lines(stored: list[Any] | None) -> tuple[CartLine, ...]:
    lines = []
    for raw in stored or []:
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
    """The shopper behind ``cart`` (all their carts: ``shopper_carts_q``), in one query:
    each of their carts with its status, its last grant under each policy, and whether it
    stalled within ``FARMING_WINDOW`` (one row per cart and policy granted under).

    - segment: VIP as the shop says, else returning with another cart converted, else new;
    - the last grant per policy (once-per-customer limits);
    - flagged for farming with ``FARMING_THRESHOLD`` carts stalled within the window.
    """
    rows = (
        Cart.objects.filter(shopper_carts_q(cart))
        .values("pk", "status", "grants__policy_version__policy_id")
        .annotate(
            last_granted_at=Max("grants__issued_at"),
            recent_stalls=Count(
                "interventions",
                filter=Q(interventions__decided_at__gte=now - FARMING_WINDOW),
            ),
        )
        .order_by()
    )
    converted_other = False
    stalled_recently: set[int] = set()
    last_granted: dict[int, datetime] = {}
    for row in rows:
        converted_other |= row["status"] == CartStatus.CONVERTED and row["pk"] != cart.pk
        if row["recent_stalls"]:
            stalled_recently.add(row["pk"])
        policy_id, at = row["grants__policy_version__policy_id"], row["last_granted_at"]
        if policy_id is not None and at is not None:
            last_granted[policy_id] = max(at, last_granted.get(policy_id, at))
    return shopper_facts_of(
        vip=cart.customer_segment == "vip",
        converted_other=converted_other,
        last_granted=last_granted,
        stalled_carts=len(stalled_recently),
    )


def shopper_facts_of(
    *, vip: bool, converted_other: bool, last_granted: dict[int, datetime], stalled_carts: int
) -> ShopperFacts:
    """The shopper's facts from what ``shopper_facts`` aggregates (the console's panel
    reads the same aggregates in its one statement on PostgreSQL)."""
    if vip:
        segment = Segment.VIP
    elif converted_other:
        segment = Segment.RETURNING
    else:
        segment = Segment.NEW
    return ShopperFacts(
        segment=segment,
        last_granted_at=tuple(sorted(last_granted.items())),
        flagged_for_farming=stalled_carts >= FARMING_THRESHOLD,
    )


def spend_snapshot(
    *, policy_ids: list[int], agent_id: int, now: datetime, timezone: str
) -> tuple[tuple[int, PolicySpend], ...]:
    """The spend so far of ``policy_ids`` (today, this month, the agent today), read live:
    never cached (ADR 0020). No query for no policies."""
    if not policy_ids:
        return ()
    today, month = period_starts(now, timezone)
    if connection.vendor == "postgresql":
        rows = _spend_rows_postgresql(policy_ids, agent_id, today, month)
    else:
        counters = BudgetCounter.objects.filter(policy_id__in=policy_ids).filter(
            Q(period=BudgetPeriod.DAY, period_start=today, agent_key=0)
            | Q(period=BudgetPeriod.MONTH, period_start=month, agent_key=0)
            | Q(period=BudgetPeriod.AGENT_DAY, period_start=today, agent_key=agent_id)
        )
        rows = [(c.policy_id, c.period, c.spent) for c in counters]
    spend: dict[int, dict[str, Decimal]] = {}
    for policy_id, period, spent in rows:
        spend.setdefault(policy_id, {})[period] = spent
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


@functools.cache
def _spend_statement() -> PreparedStatement:
    """The live spend's statement, prepared once per session like the panel's own (ADR
    0028): the remedies panel runs it whenever a policy with a budget applies.
    Parameters, in order: the policies' ids (an array), then each period with its start
    (the agent's id last)."""
    policy, period, start, agent, spent = (
        sql_column(BudgetCounter, name)
        for name in ("policy", "period", "period_start", "agent_key", "spent")
    )
    # Identifiers from the model's metadata; every value is a parameter.
    sql = (
        f"SELECT {policy}, {period}, {spent} FROM {sql_table(BudgetCounter)} "  # noqa: S608
        f"WHERE {policy} = ANY(%s) AND ("
        f"({period} = %s AND {start} = %s AND {agent} = 0) OR "
        f"({period} = %s AND {start} = %s AND {agent} = 0) OR "
        f"({period} = %s AND {start} = %s AND {agent} = %s))"
    )
    return PreparedStatement.of("cartassist_budget_spend", sql, _SPEND_TYPES)


_SPEND_TYPES = ("bigint[]", "text", "date", "text", "date", "text", "date", "bigint")


def _spend_rows_postgresql(
    policy_ids: list[int], agent_id: int, today: date, month: date
) -> list[tuple[int, str, Decimal]]:
    """The counters' rows in one hand-written statement (an array of ids, not an ``IN``
    list; no ORM compilation on the remedies panel's path, ADR 0026)."""
    with connection.cursor() as cursor:
        cursor.execute(
            *_spend_statement().call(
                [
                    list(policy_ids),
                    BudgetPeriod.DAY.value,
                    today,
                    BudgetPeriod.MONTH.value,
                    month,
                    BudgetPeriod.AGENT_DAY.value,
                    today,
                    agent_id,
                ],
            )
        )
        return list(cursor.fetchall())


def existing_remedies(
    cart: Cart, *, exclude_offer_id: int | None = None
) -> tuple[ExistingRemedy, ...]:
    offers = Offer.objects.filter(cart=cart, status__in=LIVE_OFFER_STATUSES)
    if exclude_offer_id is not None:
        offers = offers.exclude(pk=exclude_offer_id)
    return _existing(offers.order_by("pk"))


def _existing(offers: Iterable[Offer]) -> tuple[ExistingRemedy, ...]:
    return tuple(ExistingRemedy(RemedyKind(o.kind), o.exclusive) for o in offers)


@dataclass(frozen=True)
class ChatOffers:
    """A chat's offers and its cart's live ones, read together."""

    existing: tuple[ExistingRemedy, ...]  # the cart's live offers, from any chat (by id)
    conversation: tuple[Offer, ...]  # this chat's offers, whatever their status, oldest first


def chat_offers_snapshot(*, conversation_id: int, cart_id: int) -> ChatOffers:
    """The console's remedies panel reads both in one query: what was already offered
    for the cart (``existing_remedies``, for stacking) and the chat's own offers."""
    offers = list(
        Offer.objects.filter(
            Q(conversation_id=conversation_id) | Q(cart_id=cart_id, status__in=LIVE_OFFER_STATUSES)
        ).order_by("created_at", "pk")
    )
    live = [o for o in offers if o.cart_id == cart_id and o.status in LIVE_OFFER_STATUSES]
    return ChatOffers(
        existing=_existing(sorted(live, key=lambda o: o.pk)),
        conversation=tuple(o for o in offers if o.conversation_id == conversation_id),
    )


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
    return stored_cart_facts(
        subtotal=cart.subtotal,
        currency=cart.currency,
        stage=cart.stage,
        shipping_fee=cart.shipping_fee,
        lines=cart.lines,
        country=cart.shipping_country,
    )


def stored_cart_facts(
    *,
    subtotal: Decimal,
    currency: str,
    stage: str,
    shipping_fee: Decimal | None,
    lines: list[Any] | None,
    country: str,
) -> CartFacts:
    """``cart_facts`` of a cart's stored values read without its model (the console's
    panel statement)."""
    return CartFacts(
        value=subtotal,
        currency=currency,
        stage=stage,
        delivery_charge=shipping_fee,
        lines=_lines(lines),
        country=country,
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
    existing: tuple[ExistingRemedy, ...] | None = None,
) -> EvaluationContext:
    """Everything ``evaluate`` needs, read fresh from the database (``existing``: the
    cart's live offers when the caller read them already, ``chat_offers_snapshot``)."""
    if existing is None:
        existing = existing_remedies(cart, exclude_offer_id=exclude_offer_id)
    return EvaluationContext(
        cart=cart_facts(cart),
        shopper=shopper_facts(cart, now),
        stall_reason=stall_reason,
        agent=AgentFacts(agent_id=agent.pk, is_supervisor=agent.is_supervisor),
        now=now,
        spend=spend_snapshot(policy_ids=policy_ids, agent_id=agent.pk, now=now, timezone=timezone),
        existing=existing,
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
