"""Invitations: created by the sweep (or an agent's reach-out), pushed to the widget,
accepted or dismissed by the shopper, expired when ignored."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

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
from agents.services.conversations import invitation_message_post
from agents.services.presence import least_loaded_available_agent
from cartassist.carts.locks import visitors_for_update
from cartassist.carts.models import (
    Arm,
    Cart,
    CartStatus,
    Decision,
    Intervention,
    InterventionTrigger,
    Site,
    StallReason,
    SuppressionReason,
    Visitor,
)
from cartassist.carts.services.arms import shopper_arms
from cartassist.core import ports
from cartassist.core.locks import for_update
from cartassist.domain.stalls import CartSnapshot, classify_stall, score_urgency
from cartassist.webhooks.models import WebhookEvent
from cartassist.webhooks.services import intervention_webhook_data, webhooks_emit

# The built-in copy, for a stall reason the site wrote none for (in the shopper's
# language nor in its first one): translated into the shopper's language. "{agent}" is
# the agent's first name (TEAM_NAME when nobody is named).
DEFAULT_COPY: dict[str, tuple[Promise, Promise]] = {
    StallReason.SHIPPING_SHOCK: (
        _("Questions about the delivery charge?"),
        _("{agent} can look at the delivery options for your order right now."),
    ),
    StallReason.PAYMENT_FAILED: (
        _("Trouble with your payment?"),
        _("{agent} can help you complete your order."),
    ),
    StallReason.COUPON_REJECTED: (
        _("Your coupon didn't work?"),
        _("{agent} can check what applies to your cart."),
    ),
    StallReason.IDLE: (
        _("Need a hand finishing your order?"),
        _("{agent} is here if you have a question."),
    ),
}
TEAM_NAME = _("Our team")
OPEN_STATUSES = [InvitationStatus.PENDING, InvitationStatus.DELIVERED]
# Stalled carts the sweep could not invite for these reasons show in the console queue:
# an agent may reach out to them by hand (invitation_reach_out).
REACHABLE_SUPPRESSIONS = [SuppressionReason.NO_AGENT_AVAILABLE, SuppressionReason.QUIET_HOURS]


CopyKey = tuple[int, str, str]  # (site id, stall reason, language)


def _copies(site_ids: set[int]) -> dict[CopyKey, tuple[str, str]]:
    """The sites' own invitation copy, by (site, stall reason, language), in one query."""
    return {
        (c.site_id, c.stall_reason, c.language): (c.headline, c.body)
        for c in InvitationCopy.objects.filter(site_id__in=site_ids)
    }


def _shopper_languages(
    interventions: list[Intervention], sites: dict[int, Site]
) -> dict[tuple[int, str], str]:
    """Each shopper's language, by (site, visitor id): the one the widget reported
    (``Visitor.language``), resolved to one of the site's, else the site's first."""
    stored = {
        (v.site_id, v.external_id): v.language
        for v in Visitor.objects.filter(
            site_id__in={i.site_id for i in interventions},
            external_id__in={i.visitor_id for i in interventions},
        ).only("site_id", "external_id", "language")
    }
    return {
        (i.site_id, i.visitor_id): sites[i.site_id].language_for(
            stored.get((i.site_id, i.visitor_id)) or None
        )
        for i in interventions
    }


def invitation_copy_choose(
    *,
    copies: dict[CopyKey, tuple[str, str]],
    site: Site,
    stall_reason: str,
    language: str,
    agent: AgentProfile | None,
) -> tuple[str, str]:
    """The headline and body an invitation says, with ``{agent}`` filled in.

    1. The site's copy for the stall reason in the shopper's ``language``;
    2. else the site's copy in its first language (its fallback);
    3. else the built-in ``DEFAULT_COPY``, translated into ``language``.

    ``{agent}`` becomes the agent's first name, or "Our team" in the copy's language.
    """
    fallback = site.language_for(None)
    for copy_language in dict.fromkeys((language, fallback)):
        found = copies.get((site.pk, stall_reason, copy_language))
        if found is not None:
            headline, body = found
            break
    else:
        copy_language = language
        default_headline, default_body = DEFAULT_COPY[stall_reason]
        with translation.override(language):
            headline, body = str(default_headline), str(default_body)
    if agent is not None and agent.first_name:
        name = agent.first_name
    else:
        with translation.override(copy_language):
            name = str(TEAM_NAME)
    return headline.replace("{agent}", name), body.replace("{agent}", name)


def _new_invitation(
    intervention: Intervention,
    agent: AgentProfile | None,
    copies: dict[CopyKey, tuple[str, str]],
    site: Site,
    language: str,
    now: datetime,
) -> Invitation:
    headline, body = invitation_copy_choose(
        copies=copies,
        site=site,
        stall_reason=intervention.stall_reason,
        language=language,
        agent=agent,
    )
    return Invitation(
        intervention=intervention,
        site_id=intervention.site_id,
        cart_id=intervention.cart_id,
        visitor_id=intervention.visitor_id,
        agent=agent,
        stall_reason=intervention.stall_reason,
        headline=headline[:120],
        body=body[:400],
        language=language,
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
    sites = Site.objects.in_bulk(site_ids)
    languages = _shopper_languages(interventions, sites)
    named = {
        site_id: least_loaded_available_agent(site_id=site_id, now=now) for site_id in site_ids
    }
    invitations = Invitation.objects.bulk_create(
        [
            _new_invitation(
                i,
                named[i.site_id],
                copies,
                sites[i.site_id],
                languages[(i.site_id, i.visitor_id)],
                now,
            )
            for i in interventions
        ]
    )
    _publish_invitations(invitations)
    ports.invitation_results_sync.get()(invitation_ids=[i.pk for i in invitations], now=now)
    return invitations


def _invitation_create(
    *, intervention: Intervention, site: Site, agent: AgentProfile | None, now: datetime
) -> Invitation:
    languages = _shopper_languages([intervention], {site.pk: site})
    invitation = _new_invitation(
        intervention,
        agent,
        _copies({site.pk}),
        site,
        languages[(site.pk, intervention.visitor_id)],
        now,
    )
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
    """Record the acceptance and open a conversation whose first message is the
    invitation (``invitation_message_post``), routed to the named agent if they can take
    it, else the least-loaded one, else queued. One transaction. Accepting twice returns
    the same conversation."""
    with transaction.atomic():
        invitation = _open_invitation(
            site_id=site_id, visitor_id=visitor_id, invitation_id=invitation_id
        )
        if invitation.status == InvitationStatus.ACCEPTED:
            return Conversation.objects.select_related("agent").get(invitation=invitation)
        if invitation.status not in OPEN_STATUSES or invitation.expires_at <= now:
            raise ChatError("invalid_state", _("This invitation is no longer open."))
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
        # Before routing: the conversation frames it publishes then count the message.
        invitation_message_post(conversation=conversation, invitation=invitation)
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
            raise ChatError("invalid_state", _("This invitation is no longer open."))
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
            raise ChatError("invalid_state", _("This cart has already been ordered."))
        # Locked (created if new) until the invitation commits: a sweeper deciding another
        # cart of this shopper meanwhile sees this invitation (the frequency cap).
        key = (site.pk, cart.visitor_id)
        visitor = visitors_for_update(keys=[key])[key]
        if visitor.opted_out_at:
            raise ChatError("forbidden", _("This shopper opted out of proactive chat."))
        cap = timedelta(hours=site.frequency_cap_hours)
        if visitor.last_invited_at and now - visitor.last_invited_at < cap:
            raise ChatError(
                "forbidden",
                format_lazy(
                    _("This shopper was invited less than {hours} h ago."),
                    hours=site.frequency_cap_hours,
                ),
            )
        # The sweep decides suppression before the holdout, so a held-out shopper's cart
        # can have only a "suppressed" intervention: ask the shopper's arm itself.
        assignment = shopper_arms(site=site, carts=[cart])[cart.pk]
        held_out = assignment.arm == Arm.HOLDOUT
        if held_out or Intervention.objects.filter(cart=cart, decision=Decision.HELD_OUT).exists():
            raise ChatError("forbidden", _("This cart is in the control group (holdout)."))
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
            arm=assignment.arm,
            returning_shopper=assignment.returning,
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
        return _invitation_create(intervention=intervention, site=site, agent=agent, now=now)
