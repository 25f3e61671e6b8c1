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
from dataclasses import dataclass, field
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
from cartassist.carts.services.pacing import SitePacer, site_pacers
from cartassist.core.locks import supports_skip_locked
from cartassist.domain.pacing import PacingOutcome, retry_at
from cartassist.domain.stalls import CartSnapshot, Reason, classify_stall, score_urgency
from cartassist.domain.suppression import SuppressionContext, first_suppression_reason


@dataclass(frozen=True)
class ClaimedBatch:
    """One batch of the sweep: the carts it claimed and the interventions it recorded."""

    carts: list[Cart]
    sites: dict[int, Site]
    interventions: list[Intervention]
    invited_visitors: set[tuple[int, str]]
    # Carts whose invitation waits for the helpdesk (pacing): cart id → its stall
    # deadline when first due. They stay due and get no intervention yet.
    deferred: dict[int, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stall:
    """A claimed cart's stall, classified and scored once per batch."""

    reason: Reason
    urgency: int
    due_since: datetime  # the deadline it was first due at (later while pacing waits)
    waited: bool  # pacing made it wait before


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
    sweepers. Each cart's stall is classified and scored, then decided, most urgent
    first: suppressed (first reason), held out (the shopper's arm, ``arms.py``), or
    invited (cartassist.domain); paced
    sites then let the helpdesk's capacity decide between inviting, waiting (the cart
    stays due, ``ClaimedBatch.deferred``) and "helpdesk busy" (domain/pacing.py).
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
    # The helpdesk's capacity (pacing) comes with the site: no query of its own.
    sites = {
        s.pk: s
        for s in Site.objects.filter(pk__in={c.site_id for c in carts}).select_related(
            "helpdesk_capacity"
        )
    }
    visitors = _visitors(carts)
    available = {site_id: agent_available(site, now=now) for site_id, site in sites.items()}
    # The arm of each cart's shopper (fixed at the shopper's first stalled cart), in the
    # claim's order: a later cart of a shopper in this batch is returning.
    arms: dict[int, Assignment] = {}
    for site_id, site in sites.items():
        arms.update(shopper_arms(site=site, carts=[c for c in carts if c.site_id == site_id]))
    stalls = {cart.pk: _stall(cart, sites[cart.site_id]) for cart in carts}
    # Urgent stalls first (domain/stalls.py's score): they take the helpdesk's capacity
    # before the others of the batch (pacing, docs/adr/0024).
    in_order = sorted(carts, key=lambda c: (-stalls[c.pk].urgency, c.stall_deadline, c.pk))
    pacers = site_pacers(sites=sites, now=now)

    def decide_all(
        lockable: set[tuple[int, str]] | None,
    ) -> tuple[list[Intervention], set[tuple[int, str]], dict[int, datetime]]:
        invited_now: set[tuple[int, str]] = set()
        deferred: dict[int, datetime] = {}
        for pacer in pacers.values():
            pacer.reset()
        decided = [
            _decide(
                cart,
                sites[cart.site_id],
                visitors.get((cart.site_id, cart.visitor_id)),
                arms[cart.pk],
                now=now,
                agent_is_available=available[cart.site_id],
                invited_now=invited_now,
                stall=stalls[cart.pk],
                pacing=_Pacing(pacers.get(cart.site_id), lockable, deferred),
            )
            for cart in in_order
        ]
        return [i for i in decided if i is not None], invited_now, deferred

    # Decide on the visitors as read; then lock the ones to invite and decide again
    # on their fresh rows: another sweeper (or an agent's reach-out) may have just
    # invited one of them through another cart. Only visitors to invite are locked,
    # so a decision to invite can only turn into a suppression (or, paced, a wait).
    _, to_invite, _ = decide_all(None)
    visitors.update(visitors_for_update(keys=to_invite))
    interventions, invited_now, deferred = decide_all(to_invite)
    # The carts are claimed by this transaction alone; the unique (cart, deadline)
    # constraint is the last line of defence, so a conflict is skipped, not raised.
    Intervention.objects.bulk_create(interventions, ignore_conflicts=True)
    return ClaimedBatch(
        carts=carts,
        sites=sites,
        interventions=interventions,
        invited_visitors=invited_now,
        deferred=deferred,
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
    """Clear the decided carts' deadlines, mark them stalled, and set the invited
    visitors' ``last_invited_at`` under their lock. Carts waiting for the helpdesk
    (pacing) stay due: their deadline moves to the retry (``domain.pacing.retry_at``)."""
    Cart.objects.filter(pk__in=[c.pk for c in batch.carts if c.pk not in batch.deferred]).update(
        stall_deadline=None, status=CartStatus.STALLED, pacing_due_since=None
    )
    by_retry: dict[tuple[datetime, datetime], list[int]] = {}
    for cart_id, due_since in batch.deferred.items():
        retry = retry_at(
            now=now,
            due_since=due_since,
            retry=settings.CARTASSIST_PACING_RETRY,
            max_wait=settings.CARTASSIST_PACING_MAX_WAIT,
        )
        by_retry.setdefault((retry, due_since), []).append(cart_id)
    for (retry, due_since), cart_ids in by_retry.items():
        Cart.objects.filter(pk__in=cart_ids).update(
            stall_deadline=retry, pacing_due_since=due_since
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


def _stall(cart: Cart, site: Site) -> Stall:
    assert cart.stall_deadline is not None
    reason = classify_stall(CartSnapshot.of(cart), shipping_shock_ratio=site.shipping_shock_ratio)
    # A wait recorded for an earlier stall (activity came since) does not count.
    waited = cart.pacing_due_since is not None and cart.pacing_due_since > cart.last_activity_at
    return Stall(
        reason=reason,
        urgency=score_urgency(reason=reason, stage=cart.stage, cart_value=cart.subtotal),
        due_since=cart.pacing_due_since
        if waited and cart.pacing_due_since
        else cart.stall_deadline,
        waited=waited,
    )


@dataclass(frozen=True, slots=True)
class _Pacing:
    """The pacing step of one decision pass: the site's ledger (None: not paced), the
    visitors the pass may invite (None: any), and where waiting carts are noted."""

    pacer: SitePacer | None
    lockable: set[tuple[int, str]] | None
    deferred: dict[int, datetime]

    def outcome(self, cart: Cart, stall: Stall) -> PacingOutcome:
        if self.pacer is None:
            return PacingOutcome.INVITE
        if self.lockable is not None and (cart.site_id, cart.visitor_id) not in self.lockable:
            outcome = self.pacer.refuse(due_since=stall.due_since)
        else:
            outcome = self.pacer.decide(stall_reason=stall.reason.value, due_since=stall.due_since)
        if outcome is PacingOutcome.WAIT:
            self.deferred[cart.pk] = stall.due_since
        return outcome


def _decide(
    cart: Cart,
    site: Site,
    visitor: Visitor | None,
    assignment: Assignment,
    *,
    now: datetime,
    agent_is_available: bool,
    invited_now: set[tuple[int, str]],
    stall: Stall,
    pacing: _Pacing,
) -> Intervention | None:
    """The cart's decision: suppressed (first reason), held out, or invited; a cart the
    holdout would invite is then paced (None: it waits for the helpdesk). The arm is
    decided before pacing, so pacing never changes who is held out."""
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
        paced = pacing.outcome(cart, stall)
        if paced is PacingOutcome.WAIT:
            return None
        if paced is PacingOutcome.HELPDESK_BUSY:
            decision, suppression_reason = Decision.SUPPRESSED, paced.value
        else:
            decision, suppression_reason = Decision.INVITED, ""
            invited_now.add((cart.site_id, cart.visitor_id))
    return Intervention(
        site=site,
        cart=cart,
        visitor_id=cart.visitor_id,
        stall_deadline=stall.due_since,
        stage=cart.stage,
        stall_reason=stall.reason.value,
        urgency=stall.urgency,
        inactivity=now - cart.last_activity_at,
        cart_value=cart.subtotal,
        currency=cart.currency,
        decision=decision,
        suppression_reason=suppression_reason,
        arm=assignment.arm,
        returning_shopper=assignment.returning,
        decided_at=now,
        paced_wait=now - stall.due_since if stall.waited else None,
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
