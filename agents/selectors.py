"""Read-only queries for the console and the verification page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from agents.errors import NotFound
from agents.models import AgentProfile, Conversation, ConversationStatus, Invitation, SavedReply
from agents.payloads import _iso, conversation_payload, follow_up_payload, with_follow_up
from agents.services.invitations import OPEN_STATUSES, REACHABLE_SUPPRESSIONS
from agents.services.presence import agents_with_load, effective_status
from cartassist.carts.models import (
    Arm,
    Cart,
    CartEvent,
    CartStatus,
    Decision,
    FollowUpContact,
    Intervention,
)
from cartassist.carts.services.shoppers import cart_identities, shopper_cart_filter
from cartassist.domain.stalls import Reason, urgency_factors

QUEUE_LIMIT = 100


def invitation_by_code(code: str) -> Invitation | None:
    code = code.strip().upper()
    if not code or len(code) > 16:
        return None
    return (
        Invitation.objects.select_related("site", "agent", "conversation")
        .filter(verification_code=code)
        .first()
    )


def _cart_brief(cart: Cart | None) -> dict[str, Any] | None:
    if cart is None:
        return None
    return {
        "id": cart.pk,
        "external_id": cart.external_id,
        "stage": cart.stage,
        "subtotal": str(cart.subtotal),
        "shipping_fee": None if cart.shipping_fee is None else str(cart.shipping_fee),
        "currency": cart.currency,
    }


def console_queue(*, site_id: int, now: datetime) -> list[dict[str, Any]]:
    """The console queue, most urgent first: chats waiting for an agent, invitations the
    shoppers have not answered yet, and stalled carts that nobody could invite (an agent
    may reach out to them)."""
    items: list[dict[str, Any]] = []
    for conversation in (
        Conversation.objects.select_related("cart", "invitation")
        .filter(site_id=site_id, status=ConversationStatus.QUEUED)
        .order_by("-urgency", "-cart_value", "created_at")[:QUEUE_LIMIT]
    ):
        items.append(
            {
                "kind": "chat",
                "conversation_id": conversation.pk,
                "urgency": conversation.urgency,
                "cart_value": str(conversation.cart_value),
                "stall_reason": conversation.invitation.stall_reason
                if conversation.invitation
                else "",
                "origin": "invitation" if conversation.invitation_id else "shopper",
                "waiting_since": _iso(conversation.created_at),
                "cart": _cart_brief(conversation.cart),
            }
        )
    for invitation in (
        Invitation.objects.select_related("intervention", "cart", "agent")
        .filter(site_id=site_id, status__in=OPEN_STATUSES, expires_at__gt=now)
        .order_by("-intervention__urgency", "-intervention__cart_value")[:QUEUE_LIMIT]
    ):
        items.append(
            {
                "kind": "invitation",
                "invitation_id": invitation.pk,
                "urgency": invitation.intervention.urgency,
                "cart_value": str(invitation.intervention.cart_value),
                "stall_reason": invitation.stall_reason,
                "status": invitation.status,
                "agent_name": invitation.agent.display_name if invitation.agent else "",
                "sent_at": _iso(invitation.sent_at),
                "cart": _cart_brief(invitation.cart),
            }
        )
    for intervention in (
        Intervention.objects.select_related("cart")
        .filter(
            site_id=site_id,
            decision=Decision.SUPPRESSED,
            suppression_reason__in=REACHABLE_SUPPRESSIONS,
            decided_at__gte=now - timedelta(hours=2),
            cart__status="stalled",
        )
        # Holdout shoppers are never reached out to (reach-out refuses them too).
        .exclude(arm=Arm.HOLDOUT)
        # Only the cart's latest decision: once an agent has reached out (a newer
        # "invited" intervention), the cart shows as that invitation, not as stalled.
        .exclude(
            Exists(
                Intervention.objects.filter(
                    cart_id=OuterRef("cart_id"), decided_at__gt=OuterRef("decided_at")
                )
            )
        )
        .order_by("-urgency", "-cart_value")[:QUEUE_LIMIT]
    ):
        items.append(
            {
                "kind": "stalled_cart",
                "cart_id": intervention.cart_id,
                "urgency": intervention.urgency,
                "cart_value": str(intervention.cart_value),
                "stall_reason": intervention.stall_reason,
                "suppression_reason": intervention.suppression_reason,
                "decided_at": _iso(intervention.decided_at),
                "cart": _cart_brief(intervention.cart),
            }
        )
    items.sort(key=lambda item: (-item["urgency"], -float(item["cart_value"])))
    return items


def conversation_follow_ups(*, conversation_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The follow-up contact of each of these conversations that is one (a chat the
    shopper started after outreach), as ``follow_up_payload``, by conversation id."""
    if not conversation_ids:
        return {}
    contacts = FollowUpContact.objects.select_related("intervention").filter(
        conversation_id__in=conversation_ids
    )
    return {c.conversation_id: follow_up_payload(c) for c in contacts if c.conversation_id}


def agent_load(*, agent_id: int) -> int:
    """How many chats the agent holds now (their active conversations)."""
    return Conversation.objects.filter(agent_id=agent_id, status=ConversationStatus.ACTIVE).count()


def console_conversations(*, agent: AgentProfile) -> list[dict[str, Any]]:
    """The active chats a console follows, oldest first, as ``conversation`` payloads:
    the agent's own, or every one of the site for a supervisor. A follow-up after
    outreach carries ``follow_up``."""
    active = Conversation.objects.select_related("agent").filter(
        site_id=agent.site_id, status=ConversationStatus.ACTIVE
    )
    if not agent.is_supervisor:
        active = active.filter(agent=agent)
    chats = list(active.order_by("created_at"))
    follow_ups = conversation_follow_ups(conversation_ids=[c.pk for c in chats])
    return [with_follow_up(conversation_payload(c), follow_ups.get(c.pk)) for c in chats]


def console_conversation(
    *, agent: AgentProfile, conversation_id: int, also_related: tuple[str, ...] = ()
) -> Conversation:
    """A conversation the agent may see in the console (their own; any of their site's
    for a supervisor), with its agent, cart, the cart's site and its invitation loaded
    (and ``also_related``, more ``select_related`` paths a caller needs).
    Raises ``NotFound`` otherwise: another agent's chat looks like a missing one."""
    qs = Conversation.objects.select_related(
        "agent", "cart__site", "invitation", *also_related
    ).filter(pk=conversation_id, site_id=agent.site_id)
    if not agent.is_supervisor:
        qs = qs.filter(agent=agent)
    try:
        # get(), not first(): no ORDER BY for a primary key (its SQL costs as much CPU
        # to compile as the rest of the query: the remedies panel's hot path, ADR 0022)
        return qs.get()
    except Conversation.DoesNotExist:
        raise NotFound("conversation") from None


def conversation_cart_panel(*, agent: AgentProfile, conversation_id: int) -> dict[str, Any]:
    """The cart panel of a chat the agent may see, with the stall reason its invitation
    was sent for. Raises ``NotFound`` for a chat the agent may not see or without a cart."""
    conversation = console_conversation(agent=agent, conversation_id=conversation_id)
    if conversation.cart is None:
        raise NotFound("conversation")
    panel = cart_panel(cart=conversation.cart)
    if conversation.invitation:
        panel["stall_reason"] = conversation.invitation.stall_reason
    return panel


def site_cart_panel(*, site_id: int, cart_id: int) -> dict[str, Any]:
    """The cart panel of one of the site's carts (a stalled cart in the queue, before
    anyone reaches out). Raises ``NotFound`` for another site's cart."""
    cart = Cart.objects.filter(pk=cart_id, site_id=site_id).first()
    if cart is None:
        raise NotFound("cart")
    return cart_panel(cart=cart)


def console_colleagues(*, site_id: int, now: datetime) -> list[dict[str, Any]]:
    """The site's agents with their status at ``now`` and their load (for transfers)."""
    return [
        {
            "id": a.agent.pk,
            "display_name": a.agent.display_name,
            "status": effective_status(a.agent, now),
            "load": a.load,
            "capacity": a.agent.capacity,
        }
        for a in agents_with_load(site_id=site_id)
    ]


def cart_panel(*, cart: Cart) -> dict[str, Any]:
    """Everything the agent needs about a cart: who the shopper is (``shopper``), lines,
    totals, stage, stall reason and why it is urgent (``urgency``), the event timeline,
    and earlier interventions for this shopper (recognise returners)."""
    events = list(CartEvent.objects.filter(cart=cart).order_by("-occurred_at")[:50])
    shopper_carts, _ = shopper_cart_filter(
        site_id=cart.site_id,
        keys=cart_identities(visitor_id=cart.visitor_id, customer_ids=[cart.customer_id]),
    )
    earlier = list(
        Intervention.objects.filter(site_id=cart.site_id, cart__in=_site_carts(cart, shopper_carts))
        .exclude(cart=cart)
        .select_related("invitation")
        .order_by("-decided_at")[:10]
    )
    latest = Intervention.objects.filter(cart=cart).order_by("-decided_at").first()
    return {
        **(_cart_brief(cart) or {}),
        "lines": cart.lines,
        "shipping_method": cart.shipping_method,
        "status": cart.status,
        "order_id": cart.order_id,
        "order_total": None if cart.order_total is None else str(cart.order_total),
        "converted_at": _iso(cart.converted_at),
        "totals_trusted": cart.totals_trusted,
        "customer_id": cart.customer_id if cart.customer_verified else "",
        "shopper": shopper_summary(cart=cart, shopper_carts=shopper_carts),
        "stall_reason": latest.stall_reason if latest else "",
        "urgency": urgency_explained(latest),
        "last_activity_at": _iso(cart.last_activity_at),
        "timeline": [
            {
                "type": e.type,
                "occurred_at": _iso(e.occurred_at),
                "data": e.data,
                "applied": e.applied,
            }
            for e in events
        ],
        "earlier_interventions": [
            {
                "decided_at": _iso(i.decided_at),
                "stall_reason": i.stall_reason,
                "decision": i.decision,
                "invitation_status": getattr(getattr(i, "invitation", None), "status", ""),
            }
            for i in earlier
        ],
    }


def _site_carts(cart: Cart, shopper_carts: Q) -> Any:
    return Cart.objects.filter(shopper_carts, site_id=cart.site_id)


def shopper_summary(*, cart: Cart, shopper_carts: Q) -> dict[str, Any]:
    """Who the shopper of ``cart`` is, for the chat's header: the name and masked email
    the shop gave in signed events (this cart's, else the newest of the shopper's other
    carts), a short visitor id for guests, and what happened before with the same shopper
    (carts linked transitively by visitor or customer id, ADR 0008): earlier carts and
    orders, invitations sent and follow-up contacts."""
    others = _site_carts(cart, shopper_carts).exclude(pk=cart.pk)
    name, email_hint = cart.customer_name, cart.customer_email_hint
    if not name or not email_hint:
        for other_name, other_hint in (
            others.exclude(customer_name="", customer_email_hint="")
            .order_by("-last_activity_at")
            .values_list("customer_name", "customer_email_hint")[:5]
        ):
            name = name or other_name
            email_hint = email_hint or other_hint
    counts = others.aggregate(
        carts=Count("pk"), orders=Count("pk", filter=Q(status=CartStatus.CONVERTED))
    )
    all_carts = _site_carts(cart, shopper_carts)
    invitations = Intervention.objects.filter(
        site_id=cart.site_id, cart__in=all_carts, decision=Decision.INVITED
    ).exclude(cart=cart)
    follow_ups = FollowUpContact.objects.filter(
        site_id=cart.site_id, intervention__cart__in=all_carts
    )
    return {
        "name": name,
        "email_hint": email_hint,
        "visitor_short_id": cart.visitor_id[-6:].upper(),
        "customer_verified": cart.customer_verified,
        "returning": counts["carts"] > 0,
        "earlier_carts": counts["carts"],
        "earlier_orders": counts["orders"],
        "earlier_invitations": invitations.count(),
        "follow_ups": follow_ups.count(),
    }


def urgency_explained(intervention: Intervention | None) -> dict[str, Any] | None:
    """The urgency score the sweep gave the cart's latest stall, with its three parts
    (cartassist/domain/stalls.py ``urgency_factors``); None without a recorded stall."""
    if intervention is None:
        return None
    factors = urgency_factors(
        reason=Reason(intervention.stall_reason),
        stage=intervention.stage,
        cart_value=intervention.cart_value,
    )
    return {
        "score": intervention.urgency,
        "stall_reason": intervention.stall_reason,
        "stage": intervention.stage,
        "cart_value": str(intervention.cart_value),
        "currency": intervention.currency,
        "reason_points": factors.reason_points,
        "stage_points": factors.stage_points,
        "value_points": factors.value_points,
    }


def saved_replies(*, site_id: int, stall_reason: str = "") -> list[dict[str, Any]]:
    qs = SavedReply.objects.filter(site_id=site_id).filter(
        Q(stall_reason="") | Q(stall_reason=stall_reason)
    )
    return [
        {"id": r.pk, "title": r.title, "text": r.text, "stall_reason": r.stall_reason} for r in qs
    ]
