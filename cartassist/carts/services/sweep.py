"""The sweep's carts part: claim the carts past their deadline, decide, record.

The stall sweep itself (cartassist/flows/sweep.py) runs each batch in one transaction:
``sweep_batch_claim`` claims and decides here, the flow then emits the webhooks and
creates the invitations (chat), and ``sweep_batch_close`` marks the carts stalled and
remembers the invited visitors, all before the transaction commits.

Cost: every query goes through the partial index on ``Cart.stall_deadline`` (only carts
awaiting a decision are in it), so a sweep costs O(stalled carts), not O(all carts).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from cartassist.carts.locks import cart_qs_select_for_update, visitors_for_update
from cartassist.carts.models import (
    Arm,
    Cart,
    CartStatus,
    Decision,
    Intervention,
    Site,
    Visitor,
)
from cartassist.carts.services.arms import Assignment, shopper_arms
from cartassist.core.locks import supports_skip_locked
from cartassist.domain.stalls import CartSnapshot, classify_stall, score_urgency
from cartassist.domain.suppression import SuppressionContext, first_suppression_reason


@dataclass(frozen=True)
class ClaimedBatch:
    """One batch of the sweep: the carts it claimed and the interventions it recorded."""

    carts: list[Cart]
    sites: dict[int, Site]
    interventions: list[Intervention]
    invited_visitors: set[tuple[int, str]]


def sweep_due(*, now: datetime, site_ids: list[int] | None) -> bool:
    """Whether any cart's stall deadline has passed: one probe of the partial index
    ``cart_pending_stall_deadline``, no lock and no transaction, so the sweep with
    nothing due (most runs, every CARTASSIST_SWEEP_INTERVAL) takes no write lock on
    SQLite and opens no transaction on PostgreSQL."""
    qs = Cart.objects.filter(stall_deadline__lte=now)
    if site_ids is not None:
        qs = qs.filter(site_id__in=site_ids)
    return qs.exists()


def sweep_batch_claim(
    *, now: datetime, batch_size: int, site_ids: list[int] | None
) -> ClaimedBatch | None:
    """Claim up to ``batch_size`` carts with ``stall_deadline <= now``, oldest first, and
    record one Intervention per cart; ``None`` when there is nothing to claim.

    Must run inside a transaction (the flow's). PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so
    concurrent sweepers take disjoint carts; SQLite: the IMMEDIATE transaction serialises
    sweepers. Each cart's stall is classified and scored, then decided: suppressed (first
    reason), held out (the shopper's arm, ``arms.py``), or invited (cartassist.domain).
    The visitors it would invite are locked (cartassist.carts.locks.visitors_for_update)
    and decided again on their fresh rows, so that concurrent sweepers holding two carts
    of one visitor invite once (the frequency cap).
    """
    qs = cart_qs_select_for_update().filter(stall_deadline__lte=now).order_by("stall_deadline")
    if site_ids is not None:  # the simulator sweeps its own site at past moments
        qs = qs.filter(site_id__in=site_ids)
    if supports_skip_locked():
        qs = qs.select_for_update(skip_locked=True, of=("self",), no_key=True)
    carts = list(qs[:batch_size])
    if not carts:
        return None
    sites = {s.pk: s for s in Site.objects.filter(pk__in={c.site_id for c in carts})}
    visitors = _visitors(carts)
    available = {site_id: agent_available(site, now=now) for site_id, site in sites.items()}
    # The arm of each cart's shopper (fixed at the shopper's first stalled cart), in the
    # claim's order: a later cart of a shopper in this batch is returning.
    arms: dict[int, Assignment] = {}
    for site_id, site in sites.items():
        arms.update(shopper_arms(site=site, carts=[c for c in carts if c.site_id == site_id]))

    def decide_all() -> tuple[list[Intervention], set[tuple[int, str]]]:
        invited_now: set[tuple[int, str]] = set()
        decided = [
            _decide(
                cart,
                sites[cart.site_id],
                visitors.get((cart.site_id, cart.visitor_id)),
                arms[cart.pk],
                now=now,
                agent_is_available=available[cart.site_id],
                invited_now=invited_now,
            )
            for cart in carts
        ]
        return decided, invited_now

    # Decide on the visitors as read; then lock the ones to invite and decide again
    # on their fresh rows: another sweeper (or an agent's reach-out) may have just
    # invited one of them through another cart. Only visitors to invite are locked,
    # so a decision to invite can only turn into a suppression.
    _, to_invite = decide_all()
    visitors.update(visitors_for_update(keys=to_invite))
    interventions, invited_now = decide_all()
    # The carts are claimed by this transaction alone; the unique (cart, deadline)
    # constraint is the last line of defence, so a conflict is skipped, not raised.
    Intervention.objects.bulk_create(interventions, ignore_conflicts=True)
    return ClaimedBatch(
        carts=carts, sites=sites, interventions=interventions, invited_visitors=invited_now
    )


def sweep_batch_invited(batch: ClaimedBatch, *, now: datetime) -> list[Intervention]:
    """The batch's stored "invited" interventions that have no invitation yet."""
    return list(
        Intervention.objects.filter(
            cart_id__in=[i.cart_id for i in batch.interventions if i.decision == Decision.INVITED],
            decided_at=now,
            decision=Decision.INVITED,
            invitation__isnull=True,
        )
    )


def sweep_batch_close(batch: ClaimedBatch, *, now: datetime) -> None:
    """Clear the claimed carts' deadlines, mark them stalled, and set the invited
    visitors' ``last_invited_at`` under their lock."""
    Cart.objects.filter(pk__in=[c.pk for c in batch.carts]).update(
        stall_deadline=None, status=CartStatus.STALLED
    )
    _remember_invitations(batch.invited_visitors, now)


def _visitors(carts: list[Cart]) -> dict[tuple[int, str], Visitor]:
    by_site: dict[int, set[str]] = {}
    for cart in carts:
        by_site.setdefault(cart.site_id, set()).add(cart.visitor_id)
    found: dict[tuple[int, str], Visitor] = {}
    for site_id, visitor_ids in by_site.items():
        for visitor in Visitor.objects.filter(site_id=site_id, external_id__in=visitor_ids):
            found[(site_id, visitor.external_id)] = visitor
    return found


def _decide(
    cart: Cart,
    site: Site,
    visitor: Visitor | None,
    assignment: Assignment,
    *,
    now: datetime,
    agent_is_available: bool,
    invited_now: set[tuple[int, str]],
) -> Intervention:
    assert cart.stall_deadline is not None
    reason = classify_stall(
        CartSnapshot.of(cart),
        shipping_shock_ratio=site.shipping_shock_ratio,
    )
    last_invited_at = visitor.last_invited_at if visitor else None
    if (cart.site_id, cart.visitor_id) in invited_now:
        last_invited_at = now  # two carts of one visitor in one batch: invite once
    suppression = first_suppression_reason(
        SuppressionContext(
            now=now,
            opted_out=bool(visitor and visitor.opted_out_at),
            last_invited_at=last_invited_at,
            frequency_cap=timedelta(hours=site.frequency_cap_hours),
            timezone=site.timezone,
            quiet_hours_start=site.quiet_hours_start,
            quiet_hours_end=site.quiet_hours_end,
            agent_available=agent_is_available,
        )
    )
    if suppression is not None:
        decision, suppression_reason = Decision.SUPPRESSED, suppression.value
    elif assignment.arm == Arm.HOLDOUT:
        decision, suppression_reason = Decision.HELD_OUT, ""
    else:
        decision, suppression_reason = Decision.INVITED, ""
        invited_now.add((cart.site_id, cart.visitor_id))
    return Intervention(
        site=site,
        cart=cart,
        visitor_id=cart.visitor_id,
        stall_deadline=cart.stall_deadline,
        stage=cart.stage,
        stall_reason=reason.value,
        urgency=score_urgency(reason=reason, stage=cart.stage, cart_value=cart.subtotal),
        inactivity=now - cart.last_activity_at,
        cart_value=cart.subtotal,
        currency=cart.currency,
        decision=decision,
        suppression_reason=suppression_reason,
        arm=assignment.arm,
        returning_shopper=assignment.returning,
        decided_at=now,
    )


def _remember_invitations(invited: set[tuple[int, str]], now: datetime) -> None:
    """The frequency cap's memory; the rows exist and are locked (visitors_for_update)."""
    if not invited:
        return
    by_site: dict[int, list[str]] = {}
    for site_id, visitor_id in invited:
        by_site.setdefault(site_id, []).append(visitor_id)
    for site_id, visitor_ids in by_site.items():
        Visitor.objects.filter(site_id=site_id, external_id__in=visitor_ids).update(
            last_invited_at=now
        )


@functools.cache
def _availability_check(path: str) -> tuple[Callable[..., Any], bool]:
    """The check at ``path`` and whether it takes the sweep's ``now`` (a keyword)."""
    check = import_string(path)
    try:
        parameters = inspect.signature(check).parameters.values()
    except (TypeError, ValueError):  # a builtin or a C callable: no signature to read
        return check, False
    takes_now = any(p.name == "now" or p.kind is p.VAR_KEYWORD for p in parameters)
    return check, takes_now


def agent_available(site: Site, *, now: datetime) -> bool:
    """The pluggable "is an agent able to take the chat?" check (CARTASSIST_AGENT_AVAILABILITY).

    A check that accepts ``now`` gets the sweep's moment, so a sweep at a given time (the
    simulator's past moments, a test's frozen clock) asks about that time; a check written
    as ``callable(site)`` still works.
    """
    check, takes_now = _availability_check(settings.CARTASSIST_AGENT_AVAILABILITY)
    if takes_now:
        return bool(check(site, now=now))
    return bool(check(site))
