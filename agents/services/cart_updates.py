"""Live cart updates for the console: after ingestion changed carts (the
``carts_changed`` port, wired in ``CartAssistConfig.ready``), the consoles following a
chat about one of them get its new state as a ``cart`` frame (docs/REALTIME.md).

Most ingests touch carts no chat is about. Which carts of a site open chats follow is
kept in the process (``StampedCache`` under ``OPEN_CHATS_STAMP``, docs/adr/0018): a
conversation opening about a cart (``Conversation.save``) empties it here at once and in
the other processes within ``CARTASSIST_LOCAL_CACHE_SECONDS``. The cached set may hold
carts whose chat has closed since; the query below filters those out."""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.db import transaction

from agents import realtime
from agents.models import OPEN_CHATS_STAMP, Conversation, ConversationStatus
from agents.payloads import cart_live_payload
from cartassist.carts.models import Cart
from cartassist.core.stamps import StampedCache

# Chats whose agents (or queue) look at the cart: closed chats are not followed.
OPEN_CHAT_STATUSES = (ConversationStatus.ACTIVE, ConversationStatus.QUEUED)

_followed: StampedCache[int, frozenset[int]] = StampedCache(OPEN_CHATS_STAMP)


def followed_carts(site_id: int) -> frozenset[int]:
    """The ids of the site's carts an open chat was about when last loaded (a superset of
    those open now, as of the last stamp comparison)."""
    return _followed.get(
        site_id,
        lambda: frozenset(
            Conversation.objects.filter(
                site_id=site_id, status__in=OPEN_CHAT_STATUSES, cart_id__isnull=False
            ).values_list("cart_id", flat=True)
        ),
    )


def carts_changed_publish(*, site_id: int, cart_ids: list[int]) -> None:
    """Publish each changed cart that an open chat is about to the site's consoles, once
    the ingest commits. No query when no chat followed any of them at the last look (the
    usual case at ingestion); otherwise, after the commit, one for the chats and one for
    the carts: the ingest's last statement (the carts' UPDATE) travels with its COMMIT
    (ADR 0027), so the carts are read as committed."""
    if followed_carts(site_id).isdisjoint(cart_ids):
        return
    # Robust as realtime.publish_on_commit: the ingest is committed whatever happens here.
    transaction.on_commit(
        lambda: _carts_publish(site_id=site_id, cart_ids=cart_ids), robust=not settings.DEBUG
    )


def _carts_publish(*, site_id: int, cart_ids: list[int]) -> None:
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
