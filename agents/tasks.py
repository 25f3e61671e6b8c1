"""Celery tasks of the chat: each calls one service."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from cartassist.flows.housekeeping import chat_housekeeping
from cartassist.flows.shopper_email import shopper_email_deliver

logger = logging.getLogger(__name__)


@shared_task(name="agents.tasks.chat_housekeeping_task", ignore_result=True)
def chat_housekeeping_task() -> dict[str, int]:
    """Run by Celery beat every CARTASSIST_HOUSEKEEPING_INTERVAL_SECONDS."""
    return vars(chat_housekeeping(now=timezone.now()))


# Back-off between attempts at sending an email to a shopper: 30 s, 1 min, 2 min, 4 min …
EMAIL_RETRY_BASE_SECONDS = 30


@shared_task(
    bind=True, name="agents.tasks.shopper_email_deliver_task", ignore_result=True, acks_late=True
)
def shopper_email_deliver_task(self: Task, email_id: int) -> str:
    """Send one queued email to a shopper who left (``shopper_email_deliver``); retry
    policy lives here. A worker retries a failed send with exponential back-off up to
    CARTASSIST_EMAIL_MAX_ATTEMPTS attempts; run eagerly (embedded mode) there is no
    worker to wait in, so the attempts follow at once, in-line. Idempotent: only a
    queued email is sent, once."""
    attempt = self.request.retries + 1
    while True:
        result = shopper_email_deliver(
            email_id=email_id,
            now=timezone.now(),
            final_attempt=attempt >= settings.CARTASSIST_EMAIL_MAX_ATTEMPTS,
        )
        if result.status != "retry":
            return result.status
        if not self.request.is_eager:
            raise self.retry(
                countdown=EMAIL_RETRY_BASE_SECONDS * 2 ** (attempt - 1),
                max_retries=settings.CARTASSIST_EMAIL_MAX_ATTEMPTS - 1,
            )
        attempt += 1


def shopper_email_dispatch(email_id: int) -> None:
    """The ``shopper_email_dispatch`` port (called on commit): queue the send. A broker
    that is down leaves the email queued and logged; it is not lost."""
    try:
        shopper_email_deliver_task.delay(email_id)
    except (KombuOperationalError, RedisError):
        logger.warning("broker unavailable: email %s to a shopper stays queued", email_id)
