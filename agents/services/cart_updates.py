"""Live cart updates for the console: after ingestion changed carts (the
``carts_changed`` port, wired in ``CartAssistConfig.ready``), the consoles following a
chat about one of them get its new state as a ``cart`` frame (docs/REALTIME.md)."""

from __future__ import annotations

from collections import defaultdict

from agents import realtime
from agents.models import Conversation, ConversationStatus
from agents.payloads import cart_live_payload
from cartassist.carts.models import Cart

# Chats whose agents (or queue) look at the cart: closed chats are not followed.
OPEN_CHAT_STATUSES = (ConversationStatus.ACTIVE, ConversationStatus.QUEUED)


def carts_changed_publish(*, site_id: int, cart_ids: list[int]) -> None:
    """Publish each changed cart that an open chat is about to the site's consoles, once
    the ingest commits. One query when no chat is open about any of them (the usual case
    at ingestion); one more for the carts themselves otherwise."""
    chats: dict[int, list[int]] = defaultdict(list)
    for conversation_id, cart_id in (
        Conversation.objects.filter(
            site_id=site_id, cart_id__in=cart_ids, status__in=OPEN_CHAT_STATUSES
        )
        .order_by("pk")
        .values_list("pk", "cart_id")
    ):
        chats[cart_id].append(conversation_id)
    if not chats:
        return
    for cart in Cart.objects.filter(pk__in=list(chats)).order_by("pk"):
        realtime.publish_on_commit(
            realtime.console_site_group(site_id),
            realtime.CART_UPDATED,
            {"conversation_ids": chats[cart.pk], "cart": cart_live_payload(cart)},
        )
