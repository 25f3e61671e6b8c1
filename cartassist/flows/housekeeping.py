"""Time-driven chat changes: expiries, agent grace periods, shoppers who left."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from agents.models import CloseReason, Conversation, ConversationStatus
from agents.services.assignment import (
    conversation_close,
    conversations_requeue_abandoned,
    queue_drain,
)
from agents.services.invitations import invitations_expire
from agents.services.shopper_emails import shopper_email_addresses_purge
from cartassist.core.batches import BatchResult, each_in_own_transaction
from policies.services.offers import offers_expire, reservations_repair

logger = logging.getLogger(__name__)


@dataclass
class HousekeepingResult:
    invitations_expired: int = 0
    offers_expired: int = 0
    reservations_released: int = 0
    conversations_requeued: int = 0
    conversations_timed_out: int = 0
    conversations_assigned: int = 0
    shopper_emails_purged: int = 0
    failures: int = 0


def chat_housekeeping(*, now: datetime) -> HousekeepingResult:
    """One pass, safe to run concurrently with itself and with the consumers:

    1. expire invitations and offers nobody answered (offers release their budget);
    2. release the budget still held by finished, unaccepted offers (the repair pass);
    3. re-queue the active chats of agents silent for longer than the grace period;
    4. close conversations whose shopper has not been seen for the visitor timeout;
    5. route queued conversations to agents with free seats;
    6. delete the shoppers' email addresses past their retention (docs/adr/0025).

    Each offer, conversation and site is handled in its own transaction, and each step
    runs whatever happened in the one before: a failure is rolled back, logged and
    counted in ``failures``, never the end of the pass (cartassist/core/batches.py).
    """
    result = HousekeepingResult()

    def step(what: str, run: Callable[[], int | BatchResult]) -> int:
        try:
            outcome = run()
        except Exception:
            logger.exception("chat housekeeping: %s failed; the next steps go on", what)
            result.failures += 1
            return 0
        if isinstance(outcome, BatchResult):
            result.failures += outcome.failed
            return outcome.done
        return outcome

    result.invitations_expired = step("invitation expiry", lambda: invitations_expire(now=now))
    result.offers_expired = step("offer expiry", lambda: offers_expire(now=now))
    result.reservations_released = step("reservation repair", lambda: reservations_repair(now=now))
    result.conversations_requeued = step(
        "re-queueing",
        lambda: conversations_requeue_abandoned(now=now, grace=settings.CARTASSIST_AGENT_GRACE),
    )
    gone = Conversation.objects.filter(
        status__in=[ConversationStatus.QUEUED, ConversationStatus.ACTIVE],
        visitor_last_seen_at__lt=now - settings.CARTASSIST_VISITOR_TIMEOUT,
    ).values_list("pk", flat=True)

    def close(conversation_id: int) -> None:
        conversation_close(
            conversation_id=conversation_id, reason=CloseReason.VISITOR_TIMEOUT, now=now
        )

    result.conversations_timed_out = step(
        "visitor timeouts",
        lambda: each_in_own_transaction(list(gone), close, what="visitor timeout"),
    )
    sites = set(
        Conversation.objects.filter(status=ConversationStatus.QUEUED).values_list(
            "site_id", flat=True
        )
    )
    assigned = 0

    def drain(site_id: int) -> bool:
        nonlocal assigned
        assigned += queue_drain(site_id=site_id, now=now)
        return True

    step("queue drain", lambda: each_in_own_transaction(sorted(sites), drain, what="queue drain"))
    result.conversations_assigned = assigned
    result.shopper_emails_purged = step(
        "email address retention", lambda: shopper_email_addresses_purge(now=now)
    )
    if any(vars(result).values()):
        logger.info("chat housekeeping: %s", result)
    return result
