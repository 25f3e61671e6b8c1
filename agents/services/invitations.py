"""Invitations: created by the sweep (or an agent's reach-out), pushed to the widget,
accepted or dismissed by the shopper, expired when ignored."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from agents import realtime
from agents.errors import ChatError, NotFound
from agents.models import (
    AgentProfile,
    Conversation,
    Invitation,
    InvitationCopy,
    InvitationStatus,
)
from agents.payloads import invitation_payload
from agents.services.assignment import conversation_route
from agents.services.presence import least_loaded_available_agent
from cartassist.carts.locks import visitors_for_update
from cartassist.carts.models import (
    Cart,
    CartStatus,
    Decision,
    Intervention,
    InterventionTrigger,
    StallReason,
    SuppressionReason,
    Visitor,
)
from cartassist.core import ports
from cartassist.core.locks import for_update
from cartassist.domain.holdout import is_held_out
from cartassist.domain.stalls import CartSnapshot, classify_stall, score_urgency
from cartassist.webhooks.models import WebhookEvent
from cartassist.webhooks.services import intervention_webhook_data, webhooks_emit

DEFAULT_COPY: dict[str, tuple[str, str]] = {
    StallReason.SHIPPING_SHOCK: (
        "Questions about the delivery charge?",
        "{agent} can look at the delivery options for your order right now.",
    ),
    StallReason.PAYMENT_FAILED: (
        "Trouble with your payment?",
        "{agent} can help you complete your order.",
    ),
    StallReason.COUPON_REJECTED: (
        "Your coupon didn't work?",
        "{agent} can check what applies to your cart.",
    ),
    StallReason.IDLE: (
        "Need a hand finishing your order?",
        "{agent} is here if you have a question.",
    ),
}
OPEN_STATUSES = [InvitationStatus.PENDING, InvitationStatus.DELIVERED]
# Stalled carts the sweep could not invite for these reasons show in the console queue:
# an agent may reach out to them by hand (invitation_reach_out).
REACHABLE_SUPPRESSIONS = [SuppressionReason.NO_AGENT_AVAILABLE, SuppressionReason.QUIET_HOURS]


def _copies(site_ids: set[int]) -> dict[tuple[int, str], tuple[str, str]]:
    """The sites' own invitation copy, by (site, stall reason), in one query."""
    return {
        (c.site_id, c.stall_reason): (c.headline, c.body)
        for c in InvitationCopy.objects.filter(site_id__in=site_ids)
    }


def _new_invitation(
    intervention: Intervention,
    agent: AgentProfile | None,
    copies: dict[tuple[int, str], tuple[str, str]],
    now: datetime,
) -> Invitation:
    agent_name = agent.display_name if agent else "Our team"
    headline, body = copies.get(
        (intervention.site_id, intervention.stall_reason), DEFAULT_COPY[intervention.stall_reason]
    )
    return Invitation(
        intervention=intervention,
        site_id=intervention.site_id,
        cart_id=intervention.cart_id,
        visitor_id=intervention.visitor_id,
        agent=agent,
        stall_reason=intervention.stall_reason,
        headline=headline,
        body=body.replace("{agent}", agent_name),
        sent_at=now,
        expires_at=now + settings.CARTASSIST_INVITATION_TTL,
    )


def _publish_invitations(invitations: list[Invitation]) -> None:
    """Each shopper's widget gets its invitation; each site's consoles one queue change."""
    for invitation in invitations:
        realtime.publish_on_commit(
            realtime.visitor_group(invitation.site_id, invitation.visitor_id),
            realtime.INVITATION_CREATED,
            {"invitation": invitation_payload(invitation)},
        )
    for site_id in sorted({i.site_id for i in invitations}):
        realtime.publish_on_commit(realtime.console_site_group(site_id), realtime.QUEUE_CHANGED, {})


def invitations_create(*, interventions: list[Intervention], now: datetime) -> list[Invitation]:
    """An invitation for each "invited" intervention, naming the agent who will answer,
    pushed to the shopper's widget once the transaction commits. One query for the copy,
    one per site for the agent, one insert for the batch."""
    if not interventions:
        return []
    site_ids = {i.site_id for i in interventions}
    copies = _copies(site_ids)
    named = {
        site_id: least_loaded_available_agent(site_id=site_id, now=now) for site_id in site_ids
    }
    invitations = Invitation.objects.bulk_create(
        [_new_invitation(i, named[i.site_id], copies, now) for i in interventions]
    )
    _publish_invitations(invitations)
    ports.invitation_results_sync.get()(invitation_ids=[i.pk for i in invitations], now=now)
    return invitations


def _invitation_create(
    *, intervention: Intervention, agent: AgentProfile | None, now: datetime
) -> Invitation:
    invitation = _new_invitation(intervention, agent, _copies({intervention.site_id}), now)
    invitation.save()
    _publish_invitations([invitation])
    ports.invitation_results_sync.get()(invitation_ids=[invitation.pk], now=now)
    return invitation


def stalled_carts_announce(*, interventions: list[Intervention]) -> None:
    """Tell the consoles of each site where the sweep left a stalled cart that an agent
    may still reach out to: their queue changed (on commit)."""
    for site_id in sorted(
        {i.site_id for i in interventions if i.suppression_reason in REACHABLE_SUPPRESSIONS}
    ):
        realtime.publish_on_commit(realtime.console_site_group(site_id), realtime.QUEUE_CHANGED, {})


def invitations_pending(*, site_id: int, visitor_id: str, now: datetime) -> list[Invitation]:
    return list(
        Invitation.objects.select_related("agent")
        .filter(
            site_id=site_id, visitor_id=visitor_id, status__in=OPEN_STATUSES, expires_at__gt=now
        )
        .order_by("sent_at")
    )


def invitations_mark_delivered(*, invitation_ids: list[int], now: datetime) -> None:
    with transaction.atomic():
        Invitation.objects.filter(pk__in=invitation_ids, status=InvitationStatus.PENDING).update(
            status=InvitationStatus.DELIVERED, delivered_at=now
        )
        ports.invitation_results_sync.get()(invitation_ids=invitation_ids, now=now)


def _open_invitation(*, site_id: int, visitor_id: str, invitation_id: int) -> Invitation:
    invitation = (
        for_update(Invitation.objects.all())
        .filter(pk=invitation_id, site_id=site_id, visitor_id=visitor_id)
        .first()
    )
    if invitation is None:
        raise NotFound("invitation")
    return invitation


def invitation_accept(
    *, site_id: int, visitor_id: str, invitation_id: int, now: datetime
) -> Conversation:
    """Record the acceptance and open a conversation, routed to the named agent if they
    can take it, else the least-loaded one, else queued. Accepting twice returns the
    same conversation."""
    with transaction.atomic():
        invitation = _open_invitation(
            site_id=site_id, visitor_id=visitor_id, invitation_id=invitation_id
        )
        if invitation.status == InvitationStatus.ACCEPTED:
            return Conversation.objects.select_related("agent").get(invitation=invitation)
        if invitation.status not in OPEN_STATUSES or invitation.expires_at <= now:
            raise ChatError("invalid_state", "This invitation is no longer open.")
        invitation.status = InvitationStatus.ACCEPTED
        invitation.responded_at = now
        invitation.save(update_fields=["status", "responded_at"])
        ports.invitation_results_sync.get()(invitation_ids=[invitation.pk], now=now)
        intervention = invitation.intervention
        conversation = Conversation.objects.create(
            site_id=site_id,
            visitor_id=visitor_id,
            cart_id=invitation.cart_id,
            invitation=invitation,
            urgency=intervention.urgency,
            cart_value=intervention.cart_value,
            created_at=now,
            visitor_last_seen_at=now,
        )
        conversation_route(
            conversation=conversation, now=now, preferred_agent_id=invitation.agent_id
        )
    return conversation


def invitation_dismiss(*, site_id: int, visitor_id: str, invitation_id: int, now: datetime) -> None:
    """Record the dismissal; the invitation never comes back (the frequency cap keeps a
    new one away too)."""
    with transaction.atomic():
        invitation = _open_invitation(
            site_id=site_id, visitor_id=visitor_id, invitation_id=invitation_id
        )
        if invitation.status == InvitationStatus.DISMISSED:
            return
        if invitation.status not in OPEN_STATUSES:
            raise ChatError("invalid_state", "This invitation is no longer open.")
        invitation.status = InvitationStatus.DISMISSED
        invitation.responded_at = now
        invitation.save(update_fields=["status", "responded_at"])
        ports.invitation_results_sync.get()(invitation_ids=[invitation.pk], now=now)
        realtime.publish_on_commit(realtime.console_site_group(site_id), realtime.QUEUE_CHANGED, {})


def invitations_expire(*, now: datetime) -> int:
    """Ignored invitations past their expiry become "expired" (the shopper ignored them)."""
    with transaction.atomic():
        ids = list(
            Invitation.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now).values_list(
                "pk", flat=True
            )[:1000]
        )
        if not ids:
            return 0
        expired = Invitation.objects.filter(pk__in=ids, status__in=OPEN_STATUSES).update(
            status=InvitationStatus.EXPIRED
        )
        ports.invitation_results_sync.get()(invitation_ids=ids, now=now)
    return expired


def invitation_reach_out(*, agent: AgentProfile, cart_id: int, now: datetime) -> Invitation:
    """An agent invites a stalled shopper now, before (or instead of) the sweep.

    Still subject to the shopper's opt-out and the site's frequency cap; carts in the
    holdout (control group) are never reached out to, or uplift would be biased.
    """
    with transaction.atomic():
        cart = Cart.objects.select_related("site").filter(pk=cart_id, site_id=agent.site_id).first()
        if cart is None:
            raise NotFound("cart")
        site = cart.site
        if cart.status == CartStatus.CONVERTED:
            raise ChatError("invalid_state", "This cart has already been ordered.")
        # Locked (created if new) until the invitation commits: a sweeper deciding another
        # cart of this shopper meanwhile sees this invitation (the frequency cap).
        key = (site.pk, cart.visitor_id)
        visitor = visitors_for_update(keys=[key])[key]
        if visitor.opted_out_at:
            raise ChatError("forbidden", "This shopper opted out of proactive chat.")
        cap = timedelta(hours=site.frequency_cap_hours)
        if visitor.last_invited_at and now - visitor.last_invited_at < cap:
            raise ChatError(
                "forbidden", f"This shopper was invited less than {site.frequency_cap_hours} h ago."
            )
        # The sweep decides suppression before the holdout, so a held-out cart can have
        # only a "suppressed" intervention: ask the holdout itself, as the sweep does.
        held_out = is_held_out(cart.external_id, site.holdout_share, salt=site.public_key)
        if held_out or Intervention.objects.filter(cart=cart, decision=Decision.HELD_OUT).exists():
            raise ChatError("forbidden", "This cart is in the control group (holdout).")
        reason = classify_stall(
            CartSnapshot.of(cart),
            shipping_shock_ratio=site.shipping_shock_ratio,
        )
        intervention = Intervention.objects.create(
            site=site,
            cart=cart,
            visitor_id=cart.visitor_id,
            stall_deadline=now,
            stage=cart.stage,
            stall_reason=reason.value,
            urgency=score_urgency(reason=reason, stage=cart.stage, cart_value=cart.subtotal),
            inactivity=max(now - cart.last_activity_at, timedelta(0)),
            cart_value=cart.subtotal,
            currency=cart.currency,
            decision=Decision.INVITED,
            trigger=InterventionTrigger.AGENT,
            decided_at=now,
        )
        Visitor.objects.filter(pk=visitor.pk).update(last_invited_at=now)
        webhooks_emit(
            site_id=site.pk,
            event=WebhookEvent.INTERVENTION_CREATED,
            dedupe_key=f"intervention:{intervention.pk}",
            data=intervention_webhook_data(intervention, cart.external_id),
            now=now,
        )
        return _invitation_create(intervention=intervention, agent=agent, now=now)
