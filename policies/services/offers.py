"""Offers: authorised against policy and budget inside one transaction, then shown to
the shopper, accepted (→ grant), declined, approved/denied by a supervisor, or expired.

House rules (docs/adr/0007): the server re-evaluates every offer on fresh state; budgets
move only through conditional UPDATEs; a reservation is released exactly once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from agents import realtime
from agents.errors import ChatError, NotFound
from agents.models import AgentProfile, Conversation, ConversationStatus
from cartassist.models import Cart
from policies.engine import (
    Allowed,
    Money,
    MoneyError,
    NotAllowed,
    Reason,
    RemedyKind,
    condition_failures,
    evaluate,
)
from policies.engine.money import parse_amount, quantize
from policies.models import (
    AuditAction,
    AuditEntry,
    BudgetCounter,
    BudgetPeriod,
    Offer,
    OfferStatus,
    PolicyVersion,
)
from policies.services.context import evaluation_context, period_starts
from policies.specs import current_specs, spec_of

REMEDY_LABELS = {
    RemedyKind.WAIVE_DELIVERY: "Waive the delivery charge",
    RemedyKind.REDUCE_DELIVERY: "Reduce the delivery charge",
    RemedyKind.DISCOUNT: "Discount",
    RemedyKind.FREE_GIFT: "Free gift",
    RemedyKind.HOLD_STOCK: "Hold stock",
}


class OfferRefused(ChatError):
    """An offer the policy, the budget or the cart's state does not allow."""

    def __init__(self, message: str, *, code: str = "offer_refused") -> None:
        super().__init__(code, message)


def audit(
    *,
    action: AuditAction,
    site_id: int,
    actor: str,
    now: datetime,
    cart: Cart | None = None,
    offer: Offer | None = None,
    grant: Any = None,
    policy_version_id: int | None = None,
    kind: str = "",
    amount: Decimal | None = None,
    currency: str = "",
    outcome: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        site_id=site_id,
        at=now,
        action=action,
        actor=actor[:120],
        cart=cart,
        offer=offer,
        grant=grant,
        policy_version_id=policy_version_id or (offer.policy_version_id if offer else None),
        kind=kind or (offer.kind if offer else ""),
        amount=amount if amount is not None else (offer.amount if offer else None),
        currency=currency or (offer.currency if offer else ""),
        outcome=outcome[:300],
    )


def _stall_reason(conversation: Conversation) -> str:
    invitation = conversation.invitation
    return invitation.stall_reason if invitation else ""


def remedies_for(
    *, agent: AgentProfile, conversation: Conversation, now: datetime
) -> dict[str, Any]:
    """What the agent may offer in this conversation now: every remedy, allowed with its
    bound and policy, or not allowed with the reason (the console's remedies panel)."""
    cart = conversation.cart
    if cart is None:
        raise NotFound("cart")
    specs = current_specs(site_id=conversation.site_id)
    site = cart.site
    ctx = evaluation_context(
        cart=cart,
        agent=agent,
        stall_reason=_stall_reason(conversation),
        now=now,
        policy_ids=[s.policy_id for s in specs],
        timezone=site.timezone,
    )
    evaluation = evaluate(ctx, specs)
    remedies = []
    for decision in evaluation.decisions:
        item: dict[str, Any] = {
            "kind": decision.kind.value,
            "label": REMEDY_LABELS[decision.kind],
            "allowed": decision.allowed,
        }
        if isinstance(decision, Allowed):
            item.update(
                bound=str(decision.bound.amount) if decision.bound else None,
                currency=decision.bound.currency if decision.bound else cart.currency,
                policy_name=decision.policy_name,
                policy_version_id=decision.policy_version_id,
                approval_above=str(decision.approval_above.amount)
                if decision.approval_above
                else None,
                exclusive=decision.exclusive,
                gift_sku=decision.gift_sku,
                hold_hours=decision.hold_hours,
                explanation=f"Allowed by policy “{decision.policy_name}”.",
            )
        else:
            item.update(reason_code=decision.reason.code, explanation=decision.reason.message())
        remedies.append(item)
    return {
        "conversation_id": conversation.pk,
        "currency": cart.currency,
        "flagged_for_farming": ctx.shopper.flagged_for_farming,
        "segment": ctx.shopper.segment.value,
        "remedies": remedies,
    }


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


def _reserve(
    *, version: PolicyVersion, agent: AgentProfile, amount: Decimal, now: datetime, timezone: str
) -> list[int]:
    """Add ``amount`` to the policy's day, month and agent-day counters, each with one
    conditional UPDATE (``spent + amount <= cap``); refuse if any cap would be passed.
    Runs in the caller's transaction, so a refusal rolls every counter back."""
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
    reserved = []
    for period, start, agent_key, cap, label in plan:
        counter_id = _counter(version.policy_id, period, start, agent_key)
        counters = BudgetCounter.objects.filter(pk=counter_id)
        if cap is not None:
            counters = counters.filter(spent__lte=cap - amount)
        if not counters.update(spent=F("spent") + amount):
            left = Money(amount, spec.currency)
            raise OfferRefused(f"The {label} of policy “{spec.name}” does not have {left} left.")
        reserved.append(counter_id)
    return reserved


def release_reservation(*, offer: Offer, now: datetime) -> bool:
    """Give the offer's reserved amount back to its budgets — exactly once, whoever
    calls (decline, expiry, denial, refused acceptance) and however often."""
    with transaction.atomic():
        if not Offer.objects.filter(pk=offer.pk, released_at__isnull=True).update(released_at=now):
            return False
        if offer.amount:
            BudgetCounter.objects.filter(pk__in=offer.reserved_counters).update(
                spent=F("spent") - offer.amount
            )
    return True


def totals_after(
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
            audit(
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
    # of=("self",): the invitation is a nullable (outer) join, which PostgreSQL refuses
    # to lock; only the conversation row is meant to be locked anyway.
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("invitation")
        .filter(pk=conversation_id, site_id=agent.site_id)
        .first()
    )
    if conversation is None or (conversation.agent_id != agent.pk and not agent.is_supervisor):
        raise NotFound("conversation")
    if conversation.status != ConversationStatus.ACTIVE:
        raise OfferRefused("Offers can only be made in an active conversation.")
    if conversation.cart_id is None:
        raise OfferRefused("This conversation has no cart.")
    cart = Cart.objects.select_for_update().select_related("site").get(pk=conversation.cart_id)
    try:
        remedy = RemedyKind(kind)
    except ValueError as exc:
        raise OfferRefused(f"Unknown remedy {str(kind)[:30]!r}.") from exc

    specs = current_specs(site_id=cart.site_id)
    ctx = evaluation_context(
        cart=cart,
        agent=agent,
        stall_reason=_stall_reason(conversation),
        now=now,
        policy_ids=[s.policy_id for s in specs],
        timezone=cart.site.timezone,
    )
    decision = evaluate(ctx, specs).for_kind(remedy)
    if isinstance(decision, NotAllowed):
        raise OfferRefused(decision.reason.message())

    value: Decimal | None = None
    if decision.bound is not None:
        if remedy is RemedyKind.FREE_GIFT:
            value = decision.bound.amount  # a gift is all or nothing
        else:
            if amount is None or amount == "":
                raise OfferRefused(f"Enter an amount up to {decision.bound}.")
            try:
                value = parse_amount(amount, cart.currency)
            except MoneyError as exc:
                raise OfferRefused(f"Amount: {exc}.") from exc
            if value <= 0:
                raise OfferRefused("The amount must be above zero.")
            if value > decision.bound.amount:
                raise OfferRefused(
                    f"{Money(value, cart.currency)} is above the {decision.bound} that policy "
                    f"“{decision.policy_name}” allows here."
                )
    version = PolicyVersion.objects.get(pk=decision.policy_version_id)
    needs_approval = (
        value is not None
        and decision.approval_above is not None
        and value > decision.approval_above.amount
    )
    reserved = (
        _reserve(version=version, agent=agent, amount=value, now=now, timezone=cart.site.timezone)
        if value is not None
        else []
    )
    before, after = totals_after(cart=cart, kind=remedy, amount=value)
    offer = Offer.objects.create(
        site_id=cart.site_id,
        conversation=conversation,
        cart=cart,
        agent=agent,
        policy_version=version,
        kind=remedy.value,
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
    audit(
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


def _offer_for_visitor(*, site_id: int, visitor_id: str, offer_id: int) -> Offer:
    offer = (
        Offer.objects.select_for_update()
        .select_related("conversation", "policy_version")
        .filter(pk=offer_id, site_id=site_id, conversation__visitor_id=visitor_id)
        .first()
    )
    if offer is None:
        raise NotFound("offer")
    return offer


def offer_accept(*, site_id: int, visitor_id: str, offer_id: int, now: datetime) -> Offer:
    """The shopper accepts: re-check the offer against the cart as it is now, then issue
    the grant. A cart that changed so that the policy no longer applies (or the total
    would go negative) refuses the acceptance with the reason and releases the budget."""
    from policies.services.grants import grant_issue

    refusal = ""
    with transaction.atomic():
        offer = _offer_for_visitor(site_id=site_id, visitor_id=visitor_id, offer_id=offer_id)
        if offer.status == OfferStatus.ACCEPTED:
            return offer
        if offer.status != OfferStatus.OFFERED or offer.expires_at <= now:
            raise ChatError("invalid_state", "This offer is no longer open.")
        cart = Cart.objects.select_for_update().select_related("site").get(pk=offer.cart_id)
        refusal = _acceptance_refusal(offer, cart, now)
        if refusal:
            offer.status = OfferStatus.REFUSED_ON_ACCEPT
            offer.refusal_reason = refusal
        else:
            offer.status = OfferStatus.ACCEPTED
            before, after = totals_after(
                cart=cart, kind=RemedyKind(offer.kind), amount=offer.amount
            )
            offer.total_before, offer.total_after = before, after
        offer.responded_at = now
        offer.save(
            update_fields=[
                "status",
                "refusal_reason",
                "responded_at",
                "total_before",
                "total_after",
            ]
        )
        audit(
            action=AuditAction.ACCEPT_REFUSED if refusal else AuditAction.OFFER_ACCEPTED,
            site_id=site_id,
            actor="shopper",
            now=now,
            cart=cart,
            offer=offer,
            outcome=refusal or "accepted",
        )
        if not refusal:
            grant_issue(offer=offer, now=now)
        offer_publish(offer)
    if refusal:
        release_reservation(offer=offer, now=now)
    return offer


def _acceptance_refusal(offer: Offer, cart: Cart, now: datetime) -> str:
    kind = RemedyKind(offer.kind)
    spec = spec_of(offer.policy_version)
    ctx = evaluation_context(
        cart=cart,
        agent=offer.agent,
        stall_reason=_stall_reason(offer.conversation),
        now=now,
        policy_ids=[spec.policy_id],
        timezone=cart.site.timezone,
        exclude_offer_id=offer.pk,
    )
    failures = condition_failures(spec, ctx)
    if failures:
        return "Your cart has changed: " + failures[0].message()
    if cart.currency != offer.currency:
        return Reason("currency", spec.name, "currency", offer.currency, cart.currency).message()
    amount = offer.amount or Decimal(0)
    delivery = kind in (RemedyKind.WAIVE_DELIVERY, RemedyKind.REDUCE_DELIVERY)
    if delivery and (cart.shipping_fee is None or amount > cart.shipping_fee):
        return "Your delivery charge has changed; ask for a new offer."
    if kind is RemedyKind.DISCOUNT and amount > cart.subtotal:
        return "Your cart total is now below the discount; ask for a new offer."
    return ""


def offer_decline(*, site_id: int, visitor_id: str, offer_id: int, now: datetime) -> Offer:
    with transaction.atomic():
        offer = _offer_for_visitor(site_id=site_id, visitor_id=visitor_id, offer_id=offer_id)
        if offer.status == OfferStatus.DECLINED:
            return offer
        if offer.status != OfferStatus.OFFERED:
            raise ChatError("invalid_state", "This offer is no longer open.")
        offer.status = OfferStatus.DECLINED
        offer.responded_at = now
        offer.save(update_fields=["status", "responded_at"])
        audit(
            action=AuditAction.OFFER_DECLINED,
            site_id=site_id,
            actor="shopper",
            now=now,
            cart=offer.cart,
            offer=offer,
            outcome="declined",
        )
        offer_publish(offer)
    release_reservation(offer=offer, now=now)
    return offer


def offer_review(*, supervisor: AgentProfile, offer_id: int, approve: bool, now: datetime) -> Offer:
    """A supervisor approves (the shopper then sees the offer) or denies (budget released)."""
    if not supervisor.is_supervisor:
        raise ChatError("forbidden", "Only supervisors approve offers.")
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update()
            .select_related("conversation")
            .filter(pk=offer_id, site_id=supervisor.site_id)
            .first()
        )
        if offer is None:
            raise NotFound("offer")
        if offer.status != OfferStatus.PENDING_APPROVAL:
            raise ChatError("invalid_state", "This offer is not waiting for approval.")
        offer.status = OfferStatus.OFFERED if approve else OfferStatus.DENIED
        offer.approved_by = supervisor
        if approve:
            offer.expires_at = now + settings.CARTASSIST_OFFER_TTL
        offer.save(update_fields=["status", "approved_by", "expires_at"])
        audit(
            action=AuditAction.OFFER_APPROVED if approve else AuditAction.OFFER_DENIED,
            site_id=offer.site_id,
            actor=f"supervisor {supervisor.display_name}",
            now=now,
            cart=offer.cart,
            offer=offer,
            outcome="approved" if approve else "denied",
        )
        offer_publish(offer)
    if not approve:
        release_reservation(offer=offer, now=now)
    return offer


def offers_expire(*, now: datetime) -> int:
    """Offers nobody answered in time expire and release their budget (exactly once)."""
    expired = 0
    for offer_id in list(
        Offer.objects.filter(
            status__in=[OfferStatus.OFFERED, OfferStatus.PENDING_APPROVAL], expires_at__lte=now
        ).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            offer = (
                Offer.objects.select_for_update().select_related("conversation").get(pk=offer_id)
            )
            if offer.status not in (OfferStatus.OFFERED, OfferStatus.PENDING_APPROVAL):
                continue
            offer.status = OfferStatus.EXPIRED
            offer.save(update_fields=["status"])
            audit(
                action=AuditAction.OFFER_EXPIRED,
                site_id=offer.site_id,
                actor="system",
                now=now,
                cart=offer.cart,
                offer=offer,
                outcome="expired",
            )
            offer_publish(offer)
        release_reservation(offer=offer, now=now)
        expired += 1
    return expired


def offers_open_for_visitor(*, site_id: int, visitor_id: str) -> list[Offer]:
    return list(
        Offer.objects.filter(
            site_id=site_id,
            conversation__visitor_id=visitor_id,
            status__in=[OfferStatus.OFFERED, OfferStatus.ACCEPTED],
        ).select_related("grant")
    )
