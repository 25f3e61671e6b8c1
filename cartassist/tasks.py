"""Celery tasks: each one calls one service; retry policy lives here."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from cartassist.services.sweep import stall_sweep


@shared_task(name="cartassist.tasks.stall_sweep_task", ignore_result=True, acks_late=True)
def stall_sweep_task() -> dict[str, int]:
    """Run by Celery beat every CARTASSIST_SWEEP_INTERVAL_SECONDS. Safe to overlap."""
    result = stall_sweep(now=timezone.now(), batch_size=settings.CARTASSIST_SWEEP_BATCH_SIZE)
    return {"claimed": result.claimed, **result.decisions}
