"""Celery tasks of the chat: each calls one service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from cartassist.flows.housekeeping import chat_housekeeping


@shared_task(name="agents.tasks.chat_housekeeping_task", ignore_result=True)
def chat_housekeeping_task() -> dict[str, int]:
    """Run by Celery beat every CARTASSIST_HOUSEKEEPING_INTERVAL_SECONDS."""
    return vars(chat_housekeeping(now=timezone.now()))
