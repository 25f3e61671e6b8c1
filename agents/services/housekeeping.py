"""Time-driven chat changes: expiries, agent grace periods, shoppers who left."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from agents.models import CloseReason, Conversation, ConversationStatus
from agents.services.assignment import conversations_requeue_abandoned, queue_drain
from agents.services.conversations import conversation_close
from agents.services.invitations import invitations_expire
from policies.services.offers import offers_expire

logger = logging.getLogger(__name__)


@dataclass
class HousekeepingResult:
    invitations_expired: int = 0
    offers_expired: int = 0
    conversations_requeued: int = 0
    conversations_timed_out: int = 0
    conversations_assigned: int = 0


def chat_housekeeping(*, now: datetime) -> HousekeepingResult:
    """One pass, safe to run concurrently with itself and with the consumers:

    1. expire invitations and offers nobody answered (offers release their budget);
    2. re-queue the active chats of agents silent for longer than the grace period;
    3. close conversations whose shopper has not been seen for the visitor timeout;
    4. route queued conversations to agents with free seats.
    """
    result = HousekeepingResult()
    result.invitations_expired = invitations_expire(now=now)
    result.offers_expired = offers_expire(now=now)
    result.conversations_requeued = conversations_requeue_abandoned(
        now=now, grace=settings.CARTASSIST_AGENT_GRACE
    )
    gone = Conversation.objects.filter(
        status__in=[ConversationStatus.QUEUED, ConversationStatus.ACTIVE],
        visitor_last_seen_at__lt=now - settings.CARTASSIST_VISITOR_TIMEOUT,
    ).values_list("pk", flat=True)
    for conversation_id in list(gone):
        conversation_close(
            conversation_id=conversation_id, reason=CloseReason.VISITOR_TIMEOUT, now=now
        )
        result.conversations_timed_out += 1
    sites = set(
        Conversation.objects.filter(status=ConversationStatus.QUEUED).values_list(
            "site_id", flat=True
        )
    )
    for site_id in sites:
        result.conversations_assigned += queue_drain(site_id=site_id, now=now)
    if any(vars(result).values()):
        logger.info("chat housekeeping: %s", result)
    return result
