"""Group names, event types and the one way to publish (docs/REALTIME.md, "Groups").

House rule: only services publish, and only after their transaction commits, through
``publish_on_commit``. Consumers subscribe to groups and forward what arrives.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# Event types: "invitation.created" is handled by a consumer method invitation_created.
INVITATION_CREATED = "invitation.created"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_CLOSED = "conversation.closed"
MESSAGE_CREATED = "message.created"
TYPING = "typing.sent"
READ = "read.updated"
QUEUE_CHANGED = "queue.changed"
OFFER_UPDATED = "offer.updated"
APPROVALS_CHANGED = "approvals.changed"
GRANT_ISSUED = "grant.issued"
# Consoles only (the site's console group): a grant issued or redeemed, a cart changed.
GRANT_UPDATED = "grant.updated"
CART_UPDATED = "cart.updated"


def visitor_group(site_id: int, visitor_id: str) -> str:
    # Visitor ids are client-chosen: hash them so the group name is always short ASCII.
    digest = hashlib.sha256(visitor_id.encode()).hexdigest()[:32]
    return f"visitor.{site_id}.{digest}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def console_site_group(site_id: int) -> str:
    return f"console.site.{site_id}"


def console_supervisors_group(site_id: int) -> str:
    """The site's supervisors' consoles: they follow every chat, so they hear of each one
    that an agent takes, not only at ``hello``."""
    return f"console.supervisors.{site_id}"


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


# A publish that fails is tried again after each of these pauses (seconds): a short
# Redis hiccup costs a little latency, not a lost frame. A longer outage is repaired by
# the subscribers, which tell their sockets to resync when their connection returns
# (agents/layers.py), and for chat messages by the next publish of the chat (ADR 0011).
PUBLISH_RETRY_DELAYS = (0.05, 0.2, 0.5)
# After a publish has failed all its retries, others in this process try once, without
# pausing, for this long (seconds): an outage must not stall every action by the pauses.
PUBLISH_FAIL_FAST_SECONDS = 5.0
_fail_fast_until = 0.0


class PublishFailed(Exception):
    """The channel layer did not take the message, after the retries."""


def _message(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    # Round-tripped through JSON: the Redis layer packs messages with msgpack, so a
    # Decimal or datetime that the in-memory layer would accept must fail here, in every
    # mode, not only in production.
    return {"type": event_type, **json.loads(json.dumps(payload))}


def _send(group: str, message: dict[str, Any]) -> None:
    global _fail_fast_until  # noqa: PLW0603 - one flag per process, by design
    layer = get_channel_layer()
    if layer is None:
        return
    pauses = PUBLISH_RETRY_DELAYS if time.monotonic() >= _fail_fast_until else ()
    for attempt, pause in enumerate((*pauses, None)):
        try:
            async_to_sync(layer.group_send)(group, message)
            _fail_fast_until = 0.0
            return
        except Exception as exc:
            if pause is None:
                _fail_fast_until = time.monotonic() + PUBLISH_FAIL_FAST_SECONDS
                raise PublishFailed(f"{message['type']} to {group}: {exc!r}") from exc
            logger.info("publish to %s failed (attempt %d), retrying: %r", group, attempt + 1, exc)
            time.sleep(pause)


async def apublish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """``publish`` on the event loop (the chat's message send, ADR 0017): the same
    retries and fail-fast window, awaited instead of run from a database thread."""
    global _fail_fast_until  # noqa: PLW0603 - one flag per process, by design
    layer = get_channel_layer()
    if layer is None:
        return
    message = _message(event_type, payload)
    pauses = PUBLISH_RETRY_DELAYS if time.monotonic() >= _fail_fast_until else ()
    for attempt, pause in enumerate((*pauses, None)):
        try:
            await layer.group_send(group, message)
            _fail_fast_until = 0.0
            return
        except Exception as exc:
            if pause is None:
                _fail_fast_until = time.monotonic() + PUBLISH_FAIL_FAST_SECONDS
                raise PublishFailed(f"{message['type']} to {group}: {exc!r}") from exc
            logger.info("publish to %s failed (attempt %d), retrying: %r", group, attempt + 1, exc)
            await asyncio.sleep(pause)


def publish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send ``payload`` to ``group`` now, retrying briefly; ``PublishFailed`` if the layer
    stays unavailable. Only for state that is already committed (see
    ``conversation_messages_publish``); everything else uses ``publish_on_commit``."""
    _send(group, _message(event_type, payload))


def publish_on_commit(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send ``payload`` to ``group`` once the current transaction commits.

    A publish that still fails after the retries is logged, never raised: the state is
    committed, and clients get it when they resync (docs/REALTIME.md, "Delivery").
    """
    message = _message(event_type, payload)

    def send() -> None:
        try:
            _send(group, message)
        except PublishFailed:
            logger.warning("publish failed; clients get it on resync", exc_info=True)

    transaction.on_commit(send, robust=not settings.DEBUG)
