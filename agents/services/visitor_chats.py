"""Chats the shopper starts from the widget's launcher, without an invitation
(docs/REALTIME.md, ``chat.start``).

Such a chat is routed exactly like an accepted invitation. When the shopper was reached
out to (or held out) within the site's follow-up window, the chat also counts as a
follow-up contact: the research's costly "contact after outreach".
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from agents.models import Conversation, ConversationStatus
from agents.services.assignment import conversation_route
from cartassist.carts.models import Cart, Site, Visitor
from cartassist.core import ports
from cartassist.core.locks import for_update
from cartassist.domain.stalls import CartSnapshot, classify_stall, score_urgency

OPEN_STATUSES = [ConversationStatus.QUEUED, ConversationStatus.ACTIVE]


def _open_conversation(*, site_id: int, visitor_id: str) -> Conversation | None:
    return (
        Conversation.objects.select_related("agent", "invitation")
        .filter(site_id=site_id, visitor_id=visitor_id, status__in=OPEN_STATUSES)
        .order_by("created_at")
        .first()
    )


def _visitor_cart(*, site: Site, visitor_id: str, cart_external_id: str | None) -> Cart | None:
    """The visitor's own cart with that id; another visitor's cart is never linked (the
    id comes from the browser)."""
    if not cart_external_id:
        return None
    return Cart.objects.filter(
        site=site, external_id=cart_external_id, visitor_id=visitor_id
    ).first()


def _urgency(cart: Cart, site: Site) -> int:
    reason = classify_stall(
        CartSnapshot.of(cart),
        shipping_shock_ratio=site.shipping_shock_ratio,
    )
    return score_urgency(reason=reason, stage=cart.stage, cart_value=cart.subtotal)


def conversation_start_by_visitor(
    *, site_id: int, visitor_id: str, cart_external_id: str | None, now: datetime
) -> Conversation:
    """Open a chat the shopper asked for, or return the one they already have.

    1. Lock the visitor's row (created if new), so two tabs starting at once get one
       conversation, not two.
    2. An open (queued or active) conversation of the visitor is returned as it is.
    3. Otherwise create one without an invitation, linked to the visitor's own cart with
       ``cart_external_id`` when there is one (urgency and value from that cart).
    4. Route it as an accepted invitation is routed: least-loaded online agent with a
       free seat, else queued (housekeeping drains the queue, or times the chat out when
       the shopper leaves).
    5. Record it as a follow-up contact when the shopper had outreach within the
       site's follow-up window (same transaction).

    Shopper-started chats ignore the site's outreach switches (opt-out, quiet hours,
    frequency cap): those limit what CartAssist starts, not what the shopper asks for.
    """
    with transaction.atomic():
        site = Site.objects.get(pk=site_id)
        visitor, _ = Visitor.objects.get_or_create(site=site, external_id=visitor_id)
        for_update(Visitor.objects.filter(pk=visitor.pk)).first()
        existing = _open_conversation(site_id=site_id, visitor_id=visitor_id)
        if existing is not None:
            return existing
        cart = _visitor_cart(site=site, visitor_id=visitor_id, cart_external_id=cart_external_id)
        conversation = Conversation.objects.create(
            site=site,
            visitor_id=visitor_id,
            cart=cart,
            invitation=None,
            urgency=_urgency(cart, site) if cart else 0,
            # Three places, as the column stores it: the frame published on commit and
            # the one read back for the reply are then the same (sent once).
            cart_value=cart.subtotal if cart else Decimal("0.000"),
            created_at=now,
            visitor_last_seen_at=now,
        )
        conversation_route(conversation=conversation, now=now)
        ports.follow_up_chat_record.get()(conversation=conversation, now=now)
    return conversation
