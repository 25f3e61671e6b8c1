"""Group names, event types and the one way to publish (docs/REALTIME.md, "Groups").

House rule: only services publish, and only after their transaction commits, through
``publish_on_commit``. Consumers subscribe to groups and forward what arrives.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

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


def visitor_group(site_id: int, visitor_id: str) -> str:
    # Visitor ids are client-chosen: hash them so the group name is always short ASCII.
    digest = hashlib.sha256(visitor_id.encode()).hexdigest()[:32]
    return f"visitor.{site_id}.{digest}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def console_site_group(site_id: int) -> str:
    return f"console.site.{site_id}"


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def publish_on_commit(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send ``payload`` to ``group`` once the current transaction commits.

    The payload is round-tripped through JSON first: the Redis layer packs messages with
    msgpack, so a Decimal or datetime that the in-memory layer would accept must fail
    here, in every mode, not only in production.
    """
    message = {"type": event_type, **json.loads(json.dumps(payload))}

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, message)

    transaction.on_commit(send, robust=not settings.DEBUG)
