"""JSON-safe payloads of models, as sent in frames (docs/REALTIME.md). No queries here:
callers pass objects with what they need already loaded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse

from agents.models import AgentProfile, Conversation, Invitation, Message
from cartassist.carts.models import Cart, FollowUpContact


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def invitation_payload(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.pk,
        "stall_reason": invitation.stall_reason,
        "headline": invitation.headline,
        "body": invitation.body,
        "agent_name": invitation.agent.display_name if invitation.agent else "",
        "verification_code": invitation.verification_code,
        "verify_url": reverse("verify-page", args=[invitation.verification_code]),
        "sent_at": _iso(invitation.sent_at),
        "expires_at": _iso(invitation.expires_at),
    }


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "agent_name": conversation.agent.display_name if conversation.agent else "",
        "agent_id": conversation.agent_id,
        "last_seq": conversation.last_seq,
        "visitor_read_seq": conversation.visitor_read_seq,
        "agent_read_seq": conversation.agent_read_seq,
        "urgency": conversation.urgency,
        "cart_value": str(conversation.cart_value),
        "created_at": _iso(conversation.created_at),
        "close_reason": conversation.close_reason,
        "disposition": conversation.disposition,
        # "shopper": started from the widget's launcher, with no invitation.
        "origin": "invitation" if conversation.invitation_id else "shopper",
    }


def follow_up_payload(contact: FollowUpContact) -> dict[str, Any]:
    """Console only (never sent to the widget): the chat is a follow-up after outreach,
    and what that outreach was, so the agent recognises the shopper. ``contact`` comes
    with its ``intervention`` loaded (``select_related``)."""
    intervention = contact.intervention
    return {
        "reason": contact.reason,
        "occurred_at": _iso(contact.occurred_at),
        "outreach": None
        if intervention is None
        else {
            "intervention_id": intervention.pk,
            "decided_at": _iso(intervention.decided_at),
            "decision": intervention.decision,
            "trigger": intervention.trigger,
            "stall_reason": intervention.stall_reason,
            "invitation_result": intervention.invitation_result,
            "offer_accepted": intervention.offer_accepted,
            "remedy_kind": intervention.remedy_kind,
            "converted": intervention.converted,
        },
    }


def with_follow_up(
    conversation: dict[str, Any], follow_up: dict[str, Any] | None
) -> dict[str, Any]:
    """Console only: a chat that is a follow-up after outreach carries ``follow_up``
    (other chats' frames are exactly the widget's)."""
    return {**conversation, "follow_up": follow_up} if follow_up else conversation


def message_payload(message: Message, author_name: str) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "sender": message.sender,
        "author_name": author_name,
        "text": message.text,
        "client_message_id": message.client_message_id,
        "created_at": _iso(message.created_at),
    }


def agent_payload(agent: AgentProfile, *, effective_status: str, load: int) -> dict[str, Any]:
    return {
        "id": agent.pk,
        "display_name": agent.display_name,
        "status": effective_status,
        "capacity": agent.capacity,
        "load": load,
        "is_supervisor": agent.is_supervisor,
    }


def cart_live_payload(cart: Cart) -> dict[str, Any]:
    """Console only: a cart's state after ingestion (the ``cart`` frame), what the cart
    panel shows at the top; the console fetches the rest (timeline, history) itself."""
    return {
        "id": cart.pk,
        "external_id": cart.external_id,
        "status": cart.status,
        "stage": cart.stage,
        "currency": cart.currency,
        "subtotal": str(cart.subtotal),
        "shipping_fee": None if cart.shipping_fee is None else str(cart.shipping_fee),
        "shipping_method": cart.shipping_method,
        "lines": cart.lines,
        "order_id": cart.order_id,
        "order_total": None if cart.order_total is None else str(cart.order_total),
        "converted_at": _iso(cart.converted_at),
        "last_activity_at": _iso(cart.last_activity_at),
        "customer_name": cart.customer_name,
        "customer_email_hint": cart.customer_email_hint,
    }
