"""The outcome of every intervention: what the shopper saw, the chat, offers, the order.

Outcomes are derived, never entered: ``outcomes_refresh_for_carts`` recomputes every
outcome field of the interventions of the shoppers who own the given carts from the
invitation, conversation, messages, offers, grants, orders and follow-up contacts. The
same inputs always give the same outcome, so calling it again (or the finaliser running
twice) changes nothing.

It runs when something that changes an outcome happens (an order arrives, a grant is
issued or redeemed, a chat closes, a follow-up contact is reported), and the periodic
``outcomes_finalise`` recomputes each intervention once more after its attribution
window has closed and marks it final.

A shopper is every cart linked, transitively, by visitor id or customer id: an order on a
new cart by the same shopper still counts. Shoppers are kept at ingestion
(services/shoppers.py, ADR 0008), so a refresh always covers whole shoppers, whichever
cart it starts from.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Count, Q

from cartassist.domain.attribution import (
    CUSTOMER,
    VISITOR,
    IdentityKey,
    Order,
    Touch,
    attribute_contact,
    attribute_orders,
)
from cartassist.locks import for_update
from cartassist.models import (
    Cart,
    CartStatus,
    Decision,
    FollowUpContact,
    Intervention,
    InvitationResult,
    Site,
    WebhookEvent,
)
from cartassist.services.shoppers import cart_identities, shopper_cart_filter, shoppers_link

logger = logging.getLogger(__name__)

OUTCOME_FIELDS = [
    "invitation_result",
    "agent_id",
    "first_response_seconds",
    "chat_duration_seconds",
    "visitor_messages",
    "agent_messages",
    "offers_made",
    "offer_accepted",
    "remedy_kind",
    "policy_id",
    "policy_version_id",
    "granted_amount",
    "remedy_cost",
    "converted",
    "converted_at",
    "order_id",
    "attribution",
    "revenue",
    "net_revenue",
    "follow_ups",
    "outcome_final",
]

# Offer statuses in which the shopper saw the offer.
SHOWN_OFFER_STATUSES = {"offered", "accepted", "declined", "expired", "refused_on_accept"}


def outcomes_refresh_for_carts(*, cart_ids: Iterable[int], now: datetime) -> int:
    """Recompute the outcomes of every intervention of the shoppers owning ``cart_ids``.

    Returns the number of interventions whose outcome changed.
    """
    starting: dict[int, dict[int, set[IdentityKey]]] = defaultdict(dict)
    for site_id, cart_id, visitor_id, customer_id in Cart.objects.filter(
        pk__in=list(cart_ids)
    ).values_list("site_id", "pk", "visitor_id", "customer_id"):
        starting[site_id][cart_id] = cart_identities(
            visitor_id=visitor_id, customer_ids=[customer_id]
        )
    changed = 0
    for site in Site.objects.filter(pk__in=list(starting)):
        carts = starting[site.pk]
        # A cart stored before shoppers were kept (or by an older release during a
        # deploy) is linked now; for every other cart this is one read.
        with transaction.atomic():
            shoppers_link(site_id=site.pk, carts=carts)
        keys = {key for cart_keys in carts.values() for key in cart_keys}
        changed += _refresh_site_shoppers(site, keys, now=now)
    return changed


def outcomes_refresh_for_interventions(*, intervention_ids: Iterable[int], now: datetime) -> int:
    cart_ids = Intervention.objects.filter(pk__in=list(intervention_ids)).values_list(
        "cart_id", flat=True
    )
    return outcomes_refresh_for_carts(cart_ids=list(cart_ids), now=now)


def outcomes_finalise(*, now: datetime, batch_size: int = 500) -> int:
    """Recompute and mark final the interventions whose attribution window has closed.

    Each site's window applies. Runs periodically (Celery beat / the embedded
    scheduler); safe to overlap and to repeat. Returns the number finalised.
    """
    finalised = 0
    for site in Site.objects.all():
        closed_before = now - timedelta(hours=site.attribution_window_hours)
        while True:
            ids = list(
                Intervention.objects.filter(
                    site=site, outcome_final=False, decided_at__lte=closed_before
                )
                .order_by("decided_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            outcomes_refresh_for_interventions(intervention_ids=ids, now=now)
            # The refresh marks closed windows final; this covers an intervention whose
            # cart has gone (nothing to refresh), so the loop always moves on.
            Intervention.objects.filter(pk__in=ids, outcome_final=False).update(
                outcome_final=True, outcome_updated_at=now
            )
            finalised += len(ids)
            if len(ids) < batch_size:
                break
    if finalised:
        logger.info("finalised %d intervention outcomes", finalised)
    return finalised


CART_FIELDS = (
    "id",
    "visitor_id",
    "customer_id",
    "status",
    "order_id",
    "order_total",
    "subtotal",
    "currency",
    "converted_at",
    "external_id",
)


def _shopper_carts(
    site: Site, keys: set[IdentityKey]
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Every cart of the shoppers of ``keys``, whole, and each cart's shopper number."""
    query, shopper_of = shopper_cart_filter(site_id=site.pk, keys=keys)
    carts = list(Cart.objects.filter(query, site=site).order_by("pk").values(*CART_FIELDS))
    group_of: dict[int, int] = {}
    for cart in carts:
        shopper = shopper_of.get((VISITOR, cart["visitor_id"]))
        if shopper is None:
            shopper = shopper_of.get((CUSTOMER, cart["customer_id"]), cart["id"])
        group_of[cart["id"]] = shopper
    return carts, group_of


def _refresh_site_shoppers(site: Site, keys: set[IdentityKey], *, now: datetime) -> int:
    """Recompute the interventions of the shoppers of ``keys`` (see the module docstring).

    1. Read the shoppers' carts, lock their interventions, and read the carts again.
    2. If an ingest merged another shopper in between, the locks do not cover it: start
       again. (A refresh writing from the older grouping after one from the newer could
       credit one order to two interventions.)
    3. Credit orders and contacts per shopper; recompute every outcome field.
    """
    for _ in range(5):
        changed = _refresh_locked(site, keys, now=now)
        if changed is not None:
            return changed
    raise RuntimeError(f"the shoppers of site {site.pk} kept changing during a refresh")


def _refresh_locked(site: Site, keys: set[IdentityKey], *, now: datetime) -> int | None:
    from agents.models import Message
    from policies.models import Grant, Offer

    with transaction.atomic():
        carts, _ = _shopper_carts(site, keys)
        cart_ids = [c["id"] for c in carts]
        interventions = list(
            for_update(Intervention.objects.all())
            .filter(site=site, cart_id__in=cart_ids)
            .select_related("invitation__conversation")
            .order_by("pk")
        )
        carts, group_of = _shopper_carts(site, keys)  # now that the locks are held
        if [c["id"] for c in carts] != cart_ids:
            return None
        if not interventions:
            return 0
        window = timedelta(hours=site.attribution_window_hours)
        touches: dict[int, list[Touch]] = defaultdict(list)
        for i in interventions:
            touches[group_of[i.cart_id]].append(
                Touch(
                    id=i.pk,
                    cart_id=i.cart_id,
                    decided_at=i.decided_at,
                    window=window,
                    in_experiment=i.decision in (Decision.INVITED, Decision.HELD_OUT),
                    currency=i.currency,
                )
            )
        orders: dict[int, list[Order]] = defaultdict(list)
        for c in carts:
            if c["status"] == CartStatus.CONVERTED and c["order_id"] and c["converted_at"]:
                orders[group_of[c["id"]]].append(
                    Order(
                        cart_id=c["id"],
                        order_id=c["order_id"],
                        completed_at=c["converted_at"],
                        total=c["order_total"] if c["order_total"] is not None else c["subtotal"],
                        currency=c["currency"],
                    )
                )
        credits = {}
        for group, group_touches in touches.items():
            credits.update(attribute_orders(group_touches, orders.get(group, [])))
        _reattribute_contacts(site, carts, group_of, touches)

        conversations = {
            i.pk: i.invitation.conversation
            for i in interventions
            if _related(i, "invitation") and _related(i.invitation, "conversation")
        }
        conversation_ids = [c.pk for c in conversations.values()]
        message_counts: dict[tuple[int, str], int] = {}
        offers_by_conversation: dict[int, list[Offer]] = defaultdict(list)
        grants_by_offer: dict[int, Grant] = {}
        if conversation_ids:
            for row in (
                Message.objects.filter(conversation_id__in=conversation_ids)
                .values("conversation_id", "sender")
                .annotate(n=Count("pk"))
            ):
                message_counts[(row["conversation_id"], row["sender"])] = row["n"]
            for offer in Offer.objects.filter(conversation_id__in=conversation_ids).order_by("pk"):
                offers_by_conversation[offer.conversation_id].append(offer)
            for grant in Grant.objects.filter(
                offer__conversation_id__in=conversation_ids
            ).select_related("policy_version"):
                grants_by_offer[grant.offer_id] = grant
        follow_ups = dict(
            FollowUpContact.objects.filter(intervention__in=[i.pk for i in interventions])
            .values_list("intervention_id")
            .annotate(n=Count("pk"))
        )

        changed: list[Intervention] = []
        newly_converted: list[Intervention] = []
        for intervention in interventions:
            before = {name: getattr(intervention, name) for name in OUTCOME_FIELDS}
            conversation = conversations.get(intervention.pk)
            _apply_invitation(intervention, now=now)
            _apply_chat(intervention, conversation, message_counts)
            offers = offers_by_conversation.get(conversation.pk, []) if conversation else []
            _apply_offers(intervention, offers, grants_by_offer)
            credit = credits.get(intervention.pk)
            if credit is None:
                intervention.converted = False
                intervention.converted_at = None
                intervention.order_id = ""
                intervention.attribution = ""
                intervention.revenue = Decimal(0)
            else:
                intervention.converted = True
                intervention.converted_at = credit.order.completed_at
                intervention.order_id = credit.order.order_id
                intervention.attribution = credit.attribution
                intervention.revenue = credit.order.total
            intervention.net_revenue = intervention.revenue - intervention.remedy_cost
            intervention.follow_ups = follow_ups.get(intervention.pk, 0)
            intervention.outcome_final = now >= intervention.decided_at + window
            after = {name: getattr(intervention, name) for name in OUTCOME_FIELDS}
            if after != before:
                intervention.outcome_updated_at = now
                changed.append(intervention)
                if intervention.converted and (
                    not before["converted"] or before["order_id"] != intervention.order_id
                ):
                    newly_converted.append(intervention)
        if changed:
            Intervention.objects.bulk_update(changed, [*OUTCOME_FIELDS, "outcome_updated_at"])
        if newly_converted:
            external_ids = {c["id"]: c["external_id"] for c in carts}
            _emit_conversions(site, newly_converted, external_ids, now=now)
        return len(changed)


def _related(obj: Any, name: str) -> Any:
    """A reverse one-to-one that may not exist, without raising."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:  # the RelatedObjectDoesNotExist of that relation
        return None


def invitation_result_for(
    *, status: str, delivered_at: datetime | None, expires_at: datetime, now: datetime
) -> str:
    """What became of an invitation, as the outcome records it."""
    from agents.models import InvitationStatus

    if status in (InvitationStatus.PENDING, InvitationStatus.DELIVERED) and expires_at <= now:
        status = InvitationStatus.EXPIRED  # the housekeeping pass has not caught up yet
    results: dict[str, str] = {
        InvitationStatus.PENDING: InvitationResult.PENDING,
        InvitationStatus.DELIVERED: InvitationResult.DELIVERED,
        InvitationStatus.ACCEPTED: InvitationResult.ACCEPTED,
        InvitationStatus.DISMISSED: InvitationResult.DISMISSED,
        InvitationStatus.EXPIRED: (
            InvitationResult.IGNORED if delivered_at else InvitationResult.UNDELIVERED
        ),
    }
    return results[status]


def invitation_results_sync(*, invitation_ids: Iterable[int], now: datetime) -> None:
    """Copy the invitations' current state to their interventions' outcome, at once.

    Called where an invitation changes (created, shown, accepted, dismissed, expired),
    so the funnel in analytics is current before the outcome is finalised. At most one
    UPDATE per result.
    """
    from agents.models import Invitation

    by_result: dict[str, list[int]] = defaultdict(list)
    for row in Invitation.objects.filter(pk__in=list(invitation_ids)).values(
        "intervention_id", "status", "delivered_at", "expires_at"
    ):
        result = invitation_result_for(
            status=row["status"],
            delivered_at=row["delivered_at"],
            expires_at=row["expires_at"],
            now=now,
        )
        by_result[result].append(row["intervention_id"])
    for result, ids in by_result.items():
        Intervention.objects.filter(pk__in=ids).exclude(invitation_result=result).update(
            invitation_result=result, outcome_updated_at=now
        )


def _apply_invitation(intervention: Intervention, *, now: datetime) -> None:
    invitation = _related(intervention, "invitation")
    if invitation is None:
        intervention.invitation_result = InvitationResult.NONE
        return
    intervention.invitation_result = invitation_result_for(
        status=invitation.status,
        delivered_at=invitation.delivered_at,
        expires_at=invitation.expires_at,
        now=now,
    )


def _apply_chat(
    intervention: Intervention, conversation: Any, message_counts: dict[tuple[int, str], int]
) -> None:
    if conversation is None:
        intervention.agent_id = None
        intervention.first_response_seconds = None
        intervention.chat_duration_seconds = None
        intervention.visitor_messages = 0
        intervention.agent_messages = 0
        return
    intervention.agent_id = conversation.agent_id
    intervention.first_response_seconds = (
        (conversation.first_agent_message_at - conversation.created_at).total_seconds()
        if conversation.first_agent_message_at
        else None
    )
    intervention.chat_duration_seconds = (
        (conversation.closed_at - conversation.created_at).total_seconds()
        if conversation.closed_at
        else None
    )
    intervention.visitor_messages = message_counts.get((conversation.pk, "visitor"), 0)
    intervention.agent_messages = message_counts.get((conversation.pk, "agent"), 0)


def _apply_offers(intervention: Intervention, offers: list[Any], grants_by_offer: dict) -> None:
    shown = [o for o in offers if o.status in SHOWN_OFFER_STATUSES]
    grants = [grants_by_offer[o.pk] for o in offers if o.pk in grants_by_offer]
    intervention.offers_made = len(shown)
    intervention.offer_accepted = bool(grants)
    first = grants[0] if grants else None
    intervention.remedy_kind = first.kind if first else ""
    intervention.policy_version_id = first.policy_version_id if first else None
    intervention.policy_id = first.policy_version.policy_id if first else None
    # Money only in the intervention's currency (ADR 0010): a grant in another one (the
    # cart switched currency after the decision) is not added to it.
    same = [g for g in grants if g.currency == intervention.currency]
    intervention.granted_amount = sum((g.amount or Decimal(0) for g in same), Decimal(0))
    intervention.remedy_cost = sum(
        (g.amount or Decimal(0) for g in same if g.redeemed_at is not None), Decimal(0)
    )


def _reattribute_contacts(
    site: Site,
    carts: list[dict[str, Any]],
    group_of: dict[int, int],
    touches: dict[int, list[Touch]],
) -> None:
    """Give every follow-up contact of these shoppers its intervention (idempotent)."""
    group_by_visitor = {c["visitor_id"]: group_of[c["id"]] for c in carts}
    group_by_customer = {c["customer_id"]: group_of[c["id"]] for c in carts if c["customer_id"]}
    query = Q(visitor_id__in=list(group_by_visitor)) & ~Q(visitor_id="")
    if group_by_customer:
        query |= Q(customer_id__in=list(group_by_customer))
    window = timedelta(days=site.follow_up_window_days)
    for contact in FollowUpContact.objects.filter(query, site=site):
        group = group_by_customer.get(contact.customer_id) or group_by_visitor.get(
            contact.visitor_id
        )
        target = attribute_contact(
            touches.get(group, []) if group is not None else [],
            contact_at=contact.occurred_at,
            follow_up_window=window,
        )
        if contact.intervention_id != target:
            contact.intervention_id = target
            contact.save(update_fields=["intervention"])


def _emit_conversions(
    site: Site,
    interventions: list[Intervention],
    external_ids: dict[int, str],
    *,
    now: datetime,
) -> None:
    """Announce newly credited orders (``conversion.attributed``), once per order."""
    from cartassist.domain.webhooks import json_safe
    from cartassist.services.webhooks import webhooks_emit_many
    from policies.engine.money import quantize

    def data_of(intervention: Intervention) -> Any:
        def data() -> dict[str, Any]:  # built only when an endpoint subscribes
            currency = intervention.currency
            return {
                "intervention_id": intervention.pk,
                "cart": external_ids[intervention.cart_id],
                "visitor_id": intervention.visitor_id,
                "decision": intervention.decision,
                "order_id": intervention.order_id,
                "revenue": str(quantize(intervention.revenue, currency)),
                "remedy_cost": str(quantize(intervention.remedy_cost, currency)),
                "net_revenue": str(quantize(intervention.net_revenue, currency)),
                "currency": currency,
                "attribution": intervention.attribution,
                "converted_at": json_safe(intervention.converted_at),
            }

        return data

    webhooks_emit_many(
        site_id=site.pk,
        event=WebhookEvent.CONVERSION_ATTRIBUTED,
        items=[(f"intervention:{i.pk}:{i.order_id}"[:80], data_of(i)) for i in interventions],
        now=now,
    )
