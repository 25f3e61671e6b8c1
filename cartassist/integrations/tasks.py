"""Celery tasks of the platform integrations: each calls one service; retries live here."""

from __future__ import annotations

from celery import Task, shared_task
from django.utils import timezone

from cartassist.integrations.discounts import native_discount_create


@shared_task(
    bind=True,
    name="cartassist.integrations.tasks.native_discount_create_task",
    ignore_result=True,
    acks_late=True,
)
def native_discount_create_task(self: Task, discount_id: int) -> str | None:
    """One attempt at creating a grant's native discount on its platform.

    A transient failure (timeout, 429, 5xx) is retried with back-off: a worker re-queues
    the task with the delay as countdown. Tasks that run eagerly (embedded mode) do not
    wait in-line; the discount stays ``failed`` and admin can retry it. A discount is
    never sent twice at once: each attempt claims the row first.
    """
    attempt = native_discount_create(discount_id=discount_id, now=timezone.now())
    if attempt is None:
        return None
    if attempt.retry_in is not None and not self.request.is_eager:
        native_discount_create_task.apply_async(
            args=(discount_id,), countdown=attempt.retry_in.total_seconds()
        )
    return attempt.status
