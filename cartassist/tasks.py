"""Celery tasks: each one calls one service; retry policy lives here."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from cartassist.flows.sweep import stall_sweep
from cartassist.outcomes.services.outcomes import outcomes_finalise, outcomes_refresh_for_carts
from cartassist.webhooks.services import webhook_deliver, webhooks_redeliver_due

logger = logging.getLogger(__name__)


@shared_task(name="cartassist.tasks.stall_sweep_task", ignore_result=True, acks_late=True)
def stall_sweep_task() -> dict[str, int]:
    """Run by Celery beat every CARTASSIST_SWEEP_INTERVAL_SECONDS (0.5 s by default; a run
    with nothing due costs one index probe). Safe to overlap: two beats, or a run that
    outlasts the interval, claim disjoint carts (ADR 0003, 0020)."""
    result = stall_sweep(now=timezone.now(), batch_size=settings.CARTASSIST_SWEEP_BATCH_SIZE)
    return {"claimed": result.claimed, **result.decisions}


@shared_task(name="cartassist.tasks.outcomes_finalise_task", ignore_result=True, acks_late=True)
def outcomes_finalise_task() -> int:
    """Run by Celery beat every CARTASSIST_OUTCOMES_INTERVAL_SECONDS. Idempotent."""
    return outcomes_finalise(now=timezone.now())


@shared_task(
    name="cartassist.tasks.outcomes_refresh_task",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def outcomes_refresh_task(cart_ids: list[int]) -> int:
    """Attach what just happened (an order, a grant, a closed chat) to the outcomes of the
    shoppers owning ``cart_ids``. Idempotent; the finaliser recomputes once more anyway."""
    return outcomes_refresh_for_carts(cart_ids=cart_ids, now=timezone.now())


def outcomes_refresh_on_commit(cart_ids: list[int]) -> None:
    """Queue an outcome refresh once the current transaction commits.

    A broker that is down must not turn the committed request into an error: the refresh
    is logged as skipped, and the next refresh of the shopper or the finalisation pass
    recomputes the same outcomes from the stored facts."""
    from django.db import transaction

    ids = sorted(set(cart_ids))

    def enqueue() -> None:
        try:
            outcomes_refresh_task.delay(ids)
        except (KombuOperationalError, RedisError):
            logger.warning("broker unavailable: outcome refresh of carts %s skipped", ids)

    if ids:
        transaction.on_commit(enqueue)


# --- webhooks (docs/WEBHOOKS.md) -----------------------------------------------------------

# A retry due within this long is re-queued by the task itself (countdown). Longer waits
# are left to the redelivery pass: a Redis broker re-delivers unacknowledged countdown
# tasks after its visibility timeout (1 h), so long countdowns would only add noise.
WEBHOOK_REQUEUE_LIMIT_SECONDS = 15 * 60


@shared_task(
    bind=True, name="cartassist.tasks.webhook_deliver_task", ignore_result=True, acks_late=True
)
def webhook_deliver_task(self: Task, delivery_id: str) -> str | None:
    """One attempt at a webhook delivery (a no-op if it is not due or already taken).

    On a failure to retry: a worker re-queues the task with the back-off as countdown;
    when tasks run eagerly (embedded mode) nothing waits in-line, the scheduler thread's
    redelivery pass sends it when it is due. Sending twice is impossible either way: each
    attempt starts with a conditional claim of the row.
    """
    result = webhook_deliver(delivery_id=delivery_id, now=timezone.now())
    if result is None:
        return None
    if (
        result.retry_in is not None
        and not self.request.is_eager
        and result.retry_in.total_seconds() <= WEBHOOK_REQUEUE_LIMIT_SECONDS
    ):
        # +1 s: the worker must not wake a moment before next_attempt_at.
        webhook_deliver_task.apply_async(
            args=(delivery_id,), countdown=result.retry_in.total_seconds() + 1
        )
    return result.status


@shared_task(
    name="cartassist.tasks.webhooks_redeliver_due_task", ignore_result=True, acks_late=True
)
def webhooks_redeliver_due_task() -> int:
    """Run by Celery beat every CARTASSIST_WEBHOOK_REDELIVERY_INTERVAL_SECONDS."""
    return webhooks_redeliver_due(now=timezone.now())
