"""Offers: authorised against policy and budget inside one transaction, then shown to
the shopper, accepted (→ grant), declined, approved/denied by a supervisor, or expired.

House rules (docs/adr/0007, 0009): the server re-evaluates every offer on fresh state;
budgets move only through conditional UPDATEs; a reservation is released exactly once, in
the transaction that finishes the offer; rows are locked in the order of
``cartassist.core.locks`` (conversation → cart → offer → budget counters by ascending id).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from agents import realtime
from agents.errors import ChatError, NotFound
from agents.models import AgentProfile, Conversation, ConversationStatus
from cartassist.carts.models import Cart, CartStatus
from cartassist.core.batches import BatchResult, each_in_own_transaction
from cartassist.core.locks import for_update
from policies.engine import (
    Allowed,
    Money,
    MoneyError,
    NotAllowed,
    Reason,
    RemedyKind,
    condition_failures,
)
from policies.engine.money import parse_amount, quantize
from policies.models import (
    UNACCEPTED_FINISHED,
    AuditAction,
    BudgetCounter,
    BudgetPeriod,
    Offer,
    OfferStatus,
    PolicyVersion,
)
from policies.services.audit import audit_record
from policies.services.context import conversation_stall_reason, evaluation_context, period_starts
from policies.services.grants import grant_issue
from policies.services.remedies import REMEDY_LABELS, order_placed_message, remedies_list
from policies.specs import spec_of

logger = logging.getLogger(__name__)


class OfferRefused(ChatError):
    """An offer the policy, the budget or the cart's state does not allow."""

    def __init__(self, message: str, *, code: str = "offer_refused") -> None:
        super().__init__(code, message)


def _counter(policy_id: int, period: str, start: Any, agent_key: int) -> int:
    BudgetCounter.objects.bulk_create(
        [
            BudgetCounter(
                policy_id=policy_id, period=period, period_start=start, agent_key=agent_key
            )
        ],
        ignore_conflicts=True,
    )
    return (
        BudgetCounter.objects.only("pk")
        .get(policy_id=policy_id, period=period, period_start=start, agent_key=agent_key)
        .pk
    )


def _lock_counters(counter_ids: Iterable[int]) -> None:
    """Lock budget counters in ascending id order, whatever order the caller names them
    in: every path that moves a budget then waits on the others in one order (a single
    ``UPDATE … WHERE id IN (…)`` would lock them in the table's physical order)."""
    list(for_update(BudgetCounter.objects.filter(pk__in=list(counter_ids))).order_by("pk"))


def _reserve(
    *, version: PolicyVersion, agent: AgentProfile, amount: Decimal, now: datetime, timezone: str
) -> list[int]:
    """Add ``amount`` to the policy's day, month and agent-day counters, each with one
    conditional UPDATE (``spent + amount <= cap``); refuse if any cap would be passed.
    The counters are locked first, by ascending id. Runs in the caller's transaction, so
    a refusal rolls every counter back."""
    spec = spec_of(version)
    today, month = period_starts(now, timezone)
    plan = [
        (BudgetPeriod.DAY, today, 0, spec.limits.daily_budget, "daily budget"),
        (BudgetPeriod.MONTH, month, 0, spec.limits.monthly_budget, "monthly budget"),
        (
            BudgetPeriod.AGENT_DAY,
            today,
            agent.pk,
            spec.limits.per_agent_daily_cap,
            "daily cap per agent",
        ),
    ]
    counter_ids = [
        _counter(version.policy_id, period, start, key) for period, start, key, *_ in plan
    ]
    _lock_counters(counter_ids)
    reserved = []
    for counter_id, (_, _, _, cap, label) in zip(counter_ids, plan, strict=True):
        counters = BudgetCounter.objects.filter(pk=counter_id)
        if cap is not None:
            counters = counters.filter(spent__lte=cap - amount)
        if not counters.update(spent=F("spent") + amount):
            left = Money(amount, spec.currency)
            raise OfferRefused(f"The {label} of policy “{spec.name}” does not have {left} left.")
        reserved.append(counter_id)
    return reserved


def reservation_release(*, offer: Offer, now: datetime) -> bool:
    """Give the offer's reserved amount back to its budgets — exactly once, whoever
    calls (decline, expiry, denial, refused acceptance, the repair pass) and however often.

    Call it inside the transaction that finishes the offer (docs/adr/0009): the status
    and the release then commit together or not at all, so no finished offer keeps its
    budget. A counter that cannot take the release (its check constraint) rolls both back.
    """
    with transaction.atomic():
        if not Offer.objects.filter(pk=offer.pk, released_at__isnull=True).update(released_at=now):
            return False
        if offer.amount and offer.reserved_counters:
            _lock_counters(offer.reserved_counters)
            BudgetCounter.objects.filter(pk__in=offer.reserved_counters).update(
                spent=F("spent") - offer.amount
            )
    offer.released_at = now
    return True


def offer_totals(
    *, cart: Cart, kind: RemedyKind, amount: Decimal | None
) -> tuple[Decimal, Decimal]:
    """The cart total before and after the remedy (confirmation: show the new total)."""
    before = cart.subtotal + (cart.shipping_fee or Decimal(0))
    if kind in (RemedyKind.WAIVE_DELIVERY, RemedyKind.REDUCE_DELIVERY, RemedyKind.DISCOUNT):
        return before, before - (amount or Decimal(0))
    return before, before


def offer_authorize(
    *,
    agent: AgentProfile,
    conversation_id: int,
    kind: str,
    amount: Any,
    now: datetime,
) -> Offer:
    """Make an offer after re-authorising it against policy and budget on fresh state.

    1. Lock the conversation and its cart; only an active conversation of this agent
       (or a supervisor) may get an offer.
    2. Evaluate the site's current policies on fresh snapshots; the remedy must be
       allowed and the amount within the bound (exact, in the cart's currency).
    3. Above the approval threshold the offer waits for a supervisor.
    4. Reserve the amount on the policy's budget counters (conditional UPDATEs).
    5. Store the offer and its audit entry; push it to the shopper (or to supervisors).
    A refusal raises ``OfferRefused`` with the reason and is audited.
    """
    try:
        with transaction.atomic():
            return _offer_authorize(
                agent=agent, conversation_id=conversation_id, kind=kind, amount=amount, now=now
            )
    except OfferRefused as refusal:
        conversation = Conversation.objects.filter(
            pk=conversation_id, site_id=agent.site_id
        ).first()
        if conversation is not None:
            audit_record(
                action=AuditAction.OFFER_REFUSED,
                site_id=agent.site_id,
                actor=f"agent {agent.display_name}",
                now=now,
                cart=conversation.cart,
                kind=str(kind)[:16],
                amount=amount if isinstance(amount, Decimal) else None,
                outcome=refusal.message,
            )
        raise


def _offer_authorize(
    *, agent: AgentProfile, conversation_id: int, kind: str, amount: Any, now: datetime
) -> Offer:
    """Steps 1–5 of ``offer_authorize``, in its transaction."""
    conversation, cart = _chat_locked(agent=agent, conversation_id=conversation_id)
    remedy = _remedy_kind(kind)
    decision = _remedy_allowed(
        cart=cart, agent=agent, conversation=conversation, remedy=remedy, now=now
    )
    value = _offer_amount(decision=decision, remedy=remedy, amount=amount, currency=cart.currency)
    version = PolicyVersion.objects.get(pk=decision.policy_version_id)
    reserved = (
        _reserve(version=version, agent=agent, amount=value, now=now, timezone=cart.site.timezone)
        if value is not None
        else []
    )
    return _offer_create(
        conversation=conversation,
        cart=cart,
        agent=agent,
        version=version,
        decision=decision,
        value=value,
        reserved=reserved,
        now=now,
    )


def _chat_locked(*, agent: AgentProfile, conversation_id: int) -> tuple[Conversation, Cart]:
    """Step 1: lock the conversation, then its cart (cartassist.core.locks: only their own rows;
    the joined invitation and site stay unlocked, so ingestion for the site goes on). Only
    an active conversation of this agent (or a supervisor) with a cart gets an offer."""
    conversation = (
        for_update(Conversation.objects.select_related("invitation"))
        .filter(pk=conversation_id, site_id=agent.site_id)
        .first()
    )
    if conversation is None or (conversation.agent_id != agent.pk and not agent.is_supervisor):
        raise NotFound("conversation")
    if conversation.status != ConversationStatus.ACTIVE:
        raise OfferRefused("Offers can only be made in an active conversation.")
    if conversation.cart_id is None:
        raise OfferRefused("This conversation has no cart.")
    cart = for_update(Cart.objects.select_related("site")).get(pk=conversation.cart_id)
    if cart.status == CartStatus.CONVERTED:
        raise OfferRefused(order_placed_message(cart), code="order_placed")
    return conversation, cart


def _remedy_kind(kind: str) -> RemedyKind:
    try:
        return RemedyKind(kind)
    except ValueError as exc:
        raise OfferRefused(f"Unknown remedy {str(kind)[:30]!r}.") from exc


def _remedy_allowed(
    *,
    cart: Cart,
    agent: AgentProfile,
    conversation: Conversation,
    remedy: RemedyKind,
    now: datetime,
) -> Allowed:
    """Step 2: the remedies list (the console's panel) on the rows just locked; the
    remedy must be allowed. Which policy versions are current is the site's policy-set
    token as this transaction reads it (ADR 0026): the set cached under that token is
    exactly those versions, never an older set."""
    remedies = remedies_list(
        cart=cart,
        agent=agent,
        stall_reason=conversation_stall_reason(conversation),
        now=now,
    )
    decision = remedies.evaluation.for_kind(remedy)
    if isinstance(decision, NotAllowed):
        raise OfferRefused(decision.reason.message())
    return decision


def _offer_amount(
    *, decision: Allowed, remedy: RemedyKind, amount: Any, currency: str
) -> Decimal | None:
    """Step 2 (amount): none for a remedy without a bound (holding stock), a gift's whole
    value, or the agent's amount: exact in the cart's currency, above zero, within the
    bound."""
    bound = decision.bound
    if bound is None:
        return None
    if remedy is RemedyKind.FREE_GIFT:
        return bound.amount  # a gift is all or nothing
    if amount is None or amount == "":
        raise OfferRefused(f"Enter an amount up to {bound}.")
    try:
        value = parse_amount(amount, currency)
    except MoneyError as exc:
        raise OfferRefused(f"Amount: {exc}.") from exc
    if value <= 0:
        raise OfferRefused("The amount must be above zero.")
    if value > bound.amount:
        raise OfferRefused(
            f"{Money(value, currency)} is above the {bound} that policy "
            f"“{decision.policy_name}” allows here."
        )
    return value


def _offer_create(
    *,
    conversation: Conversation,
    cart: Cart,
    agent: AgentProfile,
    version: PolicyVersion,
    decision: Allowed,
    value: Decimal | None,
    reserved: list[int],
    now: datetime,
) -> Offer:
    """Steps 3 and 5: store the offer (waiting for a supervisor above the approval
    threshold) with its audit entry, and publish it."""
    needs_approval = (
        value is not None
        and decision.approval_above is not None
        and value > decision.approval_above.amount
    )
    before, after = offer_totals(cart=cart, kind=decision.kind, amount=value)
    offer = Offer.objects.create(
        site_id=cart.site_id,
        conversation=conversation,
        cart=cart,
        agent=agent,
        policy_version=version,
        kind=decision.kind.value,
        amount=value,
        currency=cart.currency,
        gift_sku=decision.gift_sku,
        hold_hours=decision.hold_hours,
        exclusive=decision.exclusive,
        total_before=before,
        total_after=after,
        status=OfferStatus.PENDING_APPROVAL if needs_approval else OfferStatus.OFFERED,
        reserved_counters=reserved,
        created_at=now,
        expires_at=now + settings.CARTASSIST_OFFER_TTL,
    )
    audit_record(
        action=AuditAction.APPROVAL_REQUESTED if needs_approval else AuditAction.OFFER_CREATED,
        site_id=cart.site_id,
        actor=f"agent {agent.display_name}",
        now=now,
        cart=cart,
        offer=offer,
        outcome=f"allowed by “{decision.policy_name}” v{version.number}",
    )
    offer_publish(offer)
    return offer


def offer_payload(offer: Offer) -> dict[str, Any]:
    kind = RemedyKind(offer.kind)
    amount = Money(offer.amount, offer.currency) if offer.amount is not None else None
    if kind is RemedyKind.WAIVE_DELIVERY:
        description = f"Delivery charge waived: −{amount}"
    elif kind is RemedyKind.REDUCE_DELIVERY:
        description = f"Delivery charge reduced by {amount}"
    elif kind is RemedyKind.DISCOUNT:
        description = f"Discount of {amount}"
    elif kind is RemedyKind.FREE_GIFT:
        description = f"Free gift: {offer.gift_sku}"
    else:
        description = f"Items held for you for {offer.hold_hours} hours"
    return {
        "id": offer.pk,
        "conversation_id": offer.conversation_id,
        "kind": offer.kind,
        "label": REMEDY_LABELS[kind],
        "description": description,
        "amount": None if offer.amount is None else str(quantize(offer.amount, offer.currency)),
        "currency": offer.currency,
        "total_before": str(Money(offer.total_before, offer.currency)),
        "total_after": str(Money(offer.total_after, offer.currency)),
        "status": offer.status,
        "refusal_reason": offer.refusal_reason,
        "refusal_code": offer.refusal_code,
        "expires_at": offer.expires_at.isoformat().replace("+00:00", "Z"),
    }


def offer_publish(offer: Offer) -> None:
    """The shopper sees offers once they are "offered" (and later states); supervisors
    see pending approvals; the agent sees everything."""
    payload = {"offer": offer_payload(offer)}
    conversation = offer.conversation
    if offer.status != OfferStatus.PENDING_APPROVAL:
        realtime.publish_on_commit(
            realtime.visitor_group(conversation.site_id, conversation.visitor_id),
            realtime.OFFER_UPDATED,
            payload,
        )
    realtime.publish_on_commit(
        realtime.agent_group(offer.agent_id), realtime.OFFER_UPDATED, payload
    )
    if offer.status == OfferStatus.PENDING_APPROVAL or offer.approved_by_id:
        realtime.publish_on_commit(
            realtime.console_site_group(offer.site_id), realtime.APPROVALS_CHANGED, {}
        )


@dataclass(frozen=True)
class Transition:
    """What moving an offer from one status to another does besides the status."""

    action: AuditAction  # the audit entry it records
    releases: bool  # gives the reservation back, in the same transaction (docs/adr/0009)
    issues_grant: bool = False


# Every status change an offer may make after it was created; any other is refused.
OFFER_TRANSITIONS: dict[tuple[str, str], Transition] = {
    (OfferStatus.PENDING_APPROVAL, OfferStatus.OFFERED): Transition(
        AuditAction.OFFER_APPROVED, releases=False
    ),
    (OfferStatus.PENDING_APPROVAL, OfferStatus.DENIED): Transition(
        AuditAction.OFFER_DENIED, releases=True
    ),
    (OfferStatus.PENDING_APPROVAL, OfferStatus.EXPIRED): Transition(
        AuditAction.OFFER_EXPIRED, releases=True
    ),
    (OfferStatus.OFFERED, OfferStatus.ACCEPTED): Transition(
        AuditAction.OFFER_ACCEPTED, releases=False, issues_grant=True
    ),
    (OfferStatus.OFFERED, OfferStatus.REFUSED_ON_ACCEPT): Transition(
        AuditAction.ACCEPT_REFUSED, releases=True
    ),
    (OfferStatus.OFFERED, OfferStatus.DECLINED): Transition(
        AuditAction.OFFER_DECLINED, releases=True
    ),
    (OfferStatus.OFFERED, OfferStatus.EXPIRED): Transition(
        AuditAction.OFFER_EXPIRED, releases=True
    ),
}


def offer_transition(
    *,
    offer: Offer,
    status: OfferStatus,
    actor: str,
    outcome: str,
    now: datetime,
    cart: Cart | None = None,
    changes: Mapping[str, Any] | None = None,
) -> Offer:
    """Move ``offer`` to ``status``: the one way every path (approve, deny, accept, refused
    acceptance, decline, expire) changes an offer's status.

    The caller has locked the offer (in the order of ``cartassist.core.locks``) inside its
    transaction; everything below commits with it or not at all.
    1. The move must be in ``OFFER_TRANSITIONS``; any other raises ``invalid_state``.
    2. Save the status with the fields in ``changes``, and only those.
    3. Record the audit entry the table names (``cart``: the caller's locked row, if any).
    4. If the table says so, release the reservation (counters locked after the offer)
       or issue the grant.
    5. Publish the offer once the transaction commits.
    """
    transition = OFFER_TRANSITIONS.get((offer.status, status))
    if transition is None:
        raise ChatError("invalid_state", "This offer is no longer open.")
    fields = dict(changes or {})
    offer.status = status
    for field, value in fields.items():
        setattr(offer, field, value)
    offer.save(update_fields=["status", *fields])
    audit_record(
        action=transition.action,
        site_id=offer.site_id,
        actor=actor,
        now=now,
        cart=cart or offer.cart,
        offer=offer,
        outcome=outcome,
    )
    if transition.releases:
        reservation_release(offer=offer, now=now)
    if transition.issues_grant:
        grant_issue(offer=offer, now=now)
    offer_publish(offer)
    return offer


def _offer_for_visitor(*, site_id: int, visitor_id: str, offer_id: int, lock: bool) -> Offer:
    qs = Offer.objects.select_related("conversation", "policy_version")
    if lock:
        qs = for_update(qs)
    offer = qs.filter(pk=offer_id, site_id=site_id, conversation__visitor_id=visitor_id).first()
    if offer is None:
        raise NotFound("offer")
    return offer


def offer_accept(*, site_id: int, visitor_id: str, offer_id: int, now: datetime) -> Offer:
    """The shopper accepts: re-check the offer against the cart as it is now, then issue
    the grant. A cart that changed so that the policy no longer applies (or the total
    would go negative) refuses the acceptance with the reason and releases the budget.
    Accepting again returns the accepted offer."""
    with transaction.atomic():
        offer = _offer_for_visitor(
            site_id=site_id, visitor_id=visitor_id, offer_id=offer_id, lock=False
        )
        if offer.status == OfferStatus.OFFERED:
            # The lock order (cartassist.core.locks): the cart, then the offer, read again.
            cart = for_update(Cart.objects.select_related("site")).get(pk=offer.cart_id)
            offer = _offer_for_visitor(
                site_id=site_id, visitor_id=visitor_id, offer_id=offer_id, lock=True
            )
        if offer.status == OfferStatus.ACCEPTED:
            return offer
        if offer.status != OfferStatus.OFFERED or offer.expires_at <= now:
            raise ChatError("invalid_state", "This offer is no longer open.")
        refusal_code, refusal = _acceptance_refusal(offer, cart, now)
        if refusal:
            return offer_transition(
                offer=offer,
                status=OfferStatus.REFUSED_ON_ACCEPT,
                actor="shopper",
                outcome=refusal,
                now=now,
                cart=cart,
                changes={
                    "responded_at": now,
                    "refusal_reason": refusal,
                    "refusal_code": refusal_code,
                },
            )
        before, after = offer_totals(cart=cart, kind=RemedyKind(offer.kind), amount=offer.amount)
        return offer_transition(
            offer=offer,
            status=OfferStatus.ACCEPTED,
            actor="shopper",
            outcome="accepted",
            now=now,
            cart=cart,
            changes={"responded_at": now, "total_before": before, "total_after": after},
        )


def _acceptance_refusal(offer: Offer, cart: Cart, now: datetime) -> tuple[str, str]:
    """Why the shopper cannot have the offer now, as (code, message); ("", "") if they can.
    The message is for the agent and the audit log; the widget words the code."""
    kind = RemedyKind(offer.kind)
    spec = spec_of(offer.policy_version)
    ctx = evaluation_context(
        cart=cart,
        agent=offer.agent,
        stall_reason=conversation_stall_reason(offer.conversation),
        now=now,
        policy_ids=[spec.policy_id],
        timezone=cart.site.timezone,
        exclude_offer_id=offer.pk,
    )
    failures = condition_failures(spec, ctx)
    if failures:
        return "cart_changed", "Your cart has changed: " + failures[0].message()
    if cart.currency != offer.currency:
        reason = Reason("currency", spec.name, "currency", offer.currency, cart.currency)
        return "currency_changed", reason.message()
    amount = offer.amount or Decimal(0)
    delivery = kind in (RemedyKind.WAIVE_DELIVERY, RemedyKind.REDUCE_DELIVERY)
    if delivery and (cart.shipping_fee is None or amount > cart.shipping_fee):
        return "delivery_changed", "Your delivery charge has changed; ask for a new offer."
    if kind is RemedyKind.DISCOUNT and amount > cart.subtotal:
        return (
            "total_below_discount",
            "Your cart total is now below the discount; ask for a new offer.",
        )
    return "", ""


def offer_decline(*, site_id: int, visitor_id: str, offer_id: int, now: datetime) -> Offer:
    """The shopper declines an open offer; its budget is released. Declining again
    returns the declined offer."""
    with transaction.atomic():
        offer = _offer_for_visitor(
            site_id=site_id, visitor_id=visitor_id, offer_id=offer_id, lock=True
        )
        if offer.status == OfferStatus.DECLINED:
            return offer
        return offer_transition(
            offer=offer,
            status=OfferStatus.DECLINED,
            actor="shopper",
            outcome="declined",
            now=now,
            changes={"responded_at": now},
        )


def offer_review(*, supervisor: AgentProfile, offer_id: int, approve: bool, now: datetime) -> Offer:
    """A supervisor approves (the shopper then sees the offer) or denies (budget released)."""
    if not supervisor.is_supervisor:
        raise ChatError("forbidden", "Only supervisors approve offers.")
    with transaction.atomic():
        offer = (
            for_update(Offer.objects.select_related("conversation"))
            .filter(pk=offer_id, site_id=supervisor.site_id)
            .first()
        )
        if offer is None:
            raise NotFound("offer")
        if offer.status != OfferStatus.PENDING_APPROVAL:
            raise ChatError("invalid_state", "This offer is not waiting for approval.")
        changes: dict[str, Any] = {"approved_by": supervisor}
        if approve:
            changes["expires_at"] = now + settings.CARTASSIST_OFFER_TTL
        return offer_transition(
            offer=offer,
            status=OfferStatus.OFFERED if approve else OfferStatus.DENIED,
            actor=f"supervisor {supervisor.display_name}",
            outcome="approved" if approve else "denied",
            now=now,
            changes=changes,
        )


def offers_expire(*, now: datetime) -> BatchResult:
    """Offers nobody answered in time expire and release their budget (exactly once).

    Each offer in its own transaction: one that fails (say, a counter that cannot take
    the release) stays as it was, is logged and counted, and the others still expire."""
    due = Offer.objects.filter(
        status__in=[OfferStatus.OFFERED, OfferStatus.PENDING_APPROVAL], expires_at__lte=now
    ).order_by("pk")
    return each_in_own_transaction(
        list(due.values_list("pk", flat=True)),
        lambda offer_id: _offer_expire(offer_id=offer_id, now=now),
        what="offer expiry",
    )


def _offer_expire(*, offer_id: int, now: datetime) -> bool:
    offer = for_update(Offer.objects.select_related("conversation")).get(pk=offer_id)
    if (offer.status, OfferStatus.EXPIRED) not in OFFER_TRANSITIONS:
        return False  # answered meanwhile
    offer_transition(
        offer=offer, status=OfferStatus.EXPIRED, actor="system", outcome="expired", now=now
    )
    return True


def reservations_repair(*, now: datetime, limit: int = 1000) -> BatchResult:
    """Release the reservation of every finished, unaccepted offer that still holds one.

    Since releases commit with the offer's status change this finds nothing; it is the
    safety net for a reservation left behind anyway (by an older version, a restored
    backup, a hand edit). Each offer in its own transaction; failures logged, counted.
    """
    held = Offer.objects.filter(status__in=UNACCEPTED_FINISHED, released_at__isnull=True)
    return each_in_own_transaction(
        list(held.order_by("pk").values_list("pk", flat=True)[:limit]),
        lambda offer_id: _reservation_repair(offer_id=offer_id, now=now),
        what="reservation repair",
    )


def _reservation_repair(*, offer_id: int, now: datetime) -> bool:
    offer = for_update(Offer.objects.all()).get(pk=offer_id)
    if offer.status not in UNACCEPTED_FINISHED or not reservation_release(offer=offer, now=now):
        return False
    logger.warning(
        "released the reservation of %s offer %d (%s %s) left held",
        offer.status,
        offer.pk,
        offer.amount,
        offer.currency,
    )
    return True


def offers_open_for_visitor(*, site_id: int, visitor_id: str) -> list[Offer]:
    return list(
        Offer.objects.filter(
            site_id=site_id,
            conversation__visitor_id=visitor_id,
            status__in=[OfferStatus.OFFERED, OfferStatus.ACCEPTED],
        ).select_related("grant")
    )
