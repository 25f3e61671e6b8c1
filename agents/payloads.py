"""JSON-safe payloads of models, as sent in frames (docs/REALTIME.md). No queries here:
callers pass objects with what they need already loaded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from agents.models import AgentProfile, Conversation, Invitation, Message, Sender
from cartassist.carts.models import Cart, FollowUpContact, Site
from cartassist.domain.branding import text_colour_on

# What the shopper was offered, as the verification page and the email name it.
OFFER_LABELS = {
    "waive_delivery": _("Delivery charge waived"),
    "reduce_delivery": _("Delivery charge reduced"),
    "discount": _("Discount"),
    "free_gift": _("Free gift"),
    "hold_stock": _("Items held for you"),
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def site_payload(site: Site) -> dict[str, Any]:
    """The shop as the widget shows it (its branding), in the session answer."""
    return {
        "display_name": site.shopper_facing_name,
        "brand_colour": site.brand_colour,
        "text_colour": text_colour_on(site.brand_colour),
        "logo_url": site.logo_url,
        "languages": list(site.languages or ["en"]),
        "currency": site.currency,
        "timezone": site.timezone,
    }


def agent_brief(agent: AgentProfile | None) -> dict[str, str] | None:
    """The agent as shoppers see them: first name and photo (``null`` when nobody is
    named yet). Frames that name an agent carry it as ``agent``."""
    if agent is None:
        return None
    return {"first_name": agent.first_name, "photo_url": agent.photo_url}


def invitation_payload(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.pk,
        "stall_reason": invitation.stall_reason,
        "headline": invitation.headline,
        "body": invitation.body,
        "language": invitation.language,
        "agent_name": invitation.agent.display_name if invitation.agent else "",
        "agent": agent_brief(invitation.agent),
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
        "agent": agent_brief(conversation.agent),
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
    """A message as both sides see it; ``message.agent`` must be loaded."""
    return {
        "seq": message.seq,
        "sender": message.sender,
        "author_name": author_name,
        "agent": agent_brief(message.agent) if message.sender == Sender.AGENT else None,
        "kind": message.kind,
        "meta": message.meta or {},
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
