"""The stall sweep: claim carts past their deadline, decide, record, invite, tell the shop.

docs/ARCHITECTURE.md, "Detect" and "Decide". One function whichever scheduler calls it:
the embedded scheduler thread (cartassist/scheduler.py) or Celery beat
(cartassist/tasks.py). A flow (ADR 0015): it crosses carts (claim and decide,
cartassist/carts/services/sweep.py), webhooks (intervention.created) and chat (the
invitations), each batch in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from agents.services.invitations import invitations_create, stalled_carts_announce
from cartassist.carts.services.sweep import (
    sweep_batch_claim,
    sweep_batch_close,
    sweep_batch_invited,
    sweep_due,
)
from cartassist.webhooks.services import webhooks_emit_interventions

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    claimed: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    def count(self, decision: str) -> None:
        self.decisions[decision] = self.decisions.get(decision, 0) + 1


def stall_sweep(
    *,
    now: datetime,
    batch_size: int = 500,
    max_batches: int | None = None,
    site_ids: list[int] | None = None,
) -> SweepResult:
    """Decide every cart whose stall deadline has passed, in batches of ``batch_size``.

    With nothing due (``sweep_due``, one index probe) it returns at once. Else each
    batch is one transaction:
    1. claim up to ``batch_size`` carts with ``stall_deadline <= now``, oldest first
       (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent sweepers take disjoint
       carts; SQLite: the IMMEDIATE transaction serialises sweepers);
    2. for each cart, most urgent first, classify the stall, score urgency, and decide:
       suppressed (first reason), held out, or invited (cartassist.domain); on a site
       with pacing on, a cart the holdout would invite is invited only when its
       expected follow-ups fit the helpdesk's capacity, else it waits (stays due) or,
       once its stall is too old, is suppressed as "helpdesk busy" (ADR 0024);
    3. lock the visitors it would invite (cartassist.carts.locks.visitors_for_update) and
       decide again on their fresh state, so that concurrent sweepers holding two carts
       of one visitor invite once (the frequency cap); record one Intervention per
       (cart, deadline), clear the deadline, mark the cart stalled, and set the invited
       visitors' ``last_invited_at`` under that lock;
    4. create an Invitation for each "invited" decision, pushed to the shopper's widget
       after the transaction commits (agents/services/invitations.py).
    """
    result = SweepResult()
    if not sweep_due(now=now, site_ids=site_ids):
        return result  # nothing due: no transaction, no lock (ADR 0020)
    while max_batches is None or result.batches < max_batches:
        claimed = _sweep_batch(now=now, batch_size=batch_size, result=result, site_ids=site_ids)
        result.batches += 1
        if claimed < batch_size:
            break
    if result.claimed:
        logger.info("stall sweep decided %d carts: %s", result.claimed, result.decisions)
    return result


def _sweep_batch(
    *, now: datetime, batch_size: int, result: SweepResult, site_ids: list[int] | None
) -> int:
    with transaction.atomic():
        batch = sweep_batch_claim(now=now, batch_size=batch_size, site_ids=site_ids)
        if batch is None:
            return 0
        for intervention in batch.interventions:
            result.count(intervention.decision)
        for _cart_id in batch.deferred:
            result.count("deferred")  # waits for the helpdesk (pacing), stays due
        # intervention.created for the shops that subscribed (one query when none did).
        webhooks_emit_interventions(
            site_ids=batch.sites.keys(),
            cart_external_ids={c.pk: c.external_id for c in batch.carts},
            now=now,
        )
        invitations_create(interventions=sweep_batch_invited(batch, now=now), now=now)
        stalled_carts_announce(interventions=batch.interventions)
        sweep_batch_close(batch, now=now)
        result.claimed += len(batch.carts)
        return len(batch.carts)
