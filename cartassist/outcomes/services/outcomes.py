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
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Count, Q

from agents.models import Invitation, Message, MessageKind
from cartassist.carts.models import Cart, CartStatus, Decision, FollowUpContact, Intervention, Site
from cartassist.carts.services.shoppers import cart_identities, shopper_cart_filter, shoppers_link
from cartassist.core.locks import for_update
from cartassist.domain.attribution import CUSTOMER, VISITOR, IdentityKey, Order
from cartassist.domain.outcomes import (
    OUTCOME_FIELDS,
    ChatFacts,
    ContactFacts,
    GrantFacts,
    InterventionFacts,
    InvitationFacts,
    OfferFacts,
    Outcome,
    OutcomeChanges,
    OutcomeFacts,
    ShopperCart,
    compute_outcomes,
    invitation_result,
)
from cartassist.domain.webhooks import json_safe
from cartassist.webhooks.models import WebhookEvent
from cartassist.webhooks.services import webhooks_emit_many
from policies.engine.money import quantize
from policies.models import Grant, Offer

logger = logging.getLogger(__name__)


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
    """One attempt: None when the shoppers changed between the two reads of their carts."""
    with transaction.atomic():
        carts, _ = _shopper_carts(site, keys)
        cart_ids = [c["id"] for c in carts]
        interventions = list(
            for_update(Intervention.objects.all())
            .filter(site=site, cart_id__in=cart_ids)
            .select_related("invitation__conversation")
            .order_by("pk")
        )
        carts, shopper_of = _shopper_carts(site, keys)  # now that the locks are held
        if [c["id"] for c in carts] != cart_ids:
            return None
        if not interventions:
            return 0
        facts = _facts_load(site, carts, shopper_of, interventions)
        changes = compute_outcomes(facts, now=now)
        _changes_write(site, changes, interventions, carts, now=now)
        return len(changes.outcomes)


def _facts_load(
    site: Site,
    carts: list[dict[str, Any]],
    shopper_of: dict[int, int],
    interventions: list[Intervention],
) -> OutcomeFacts:
    """Everything the outcomes of these shoppers depend on (at most four queries)."""
    conversations = {
        i.pk: i.invitation.conversation
        for i in interventions
        if _related(i, "invitation") and _related(i.invitation, "conversation")
    }
    conversation_ids = [c.pk for c in conversations.values()]
    message_counts: dict[tuple[int, str], int] = {}
    offers: dict[int, list[Any]] = defaultdict(list)
    grants: dict[int, GrantFacts] = {}
    if conversation_ids:
        for row in (
            Message.objects.filter(conversation_id__in=conversation_ids)
            # The invitation, the chat's first message, is nobody's reply.
            .exclude(kind=MessageKind.INVITATION)
            .values("conversation_id", "sender")
            .annotate(n=Count("pk"))
        ):
            message_counts[(row["conversation_id"], row["sender"])] = row["n"]
        for offer in Offer.objects.filter(conversation_id__in=conversation_ids).order_by("pk"):
            offers[offer.conversation_id].append(offer)
        for grant in Grant.objects.filter(
            offer__conversation_id__in=conversation_ids
        ).select_related("policy_version"):
            grants[grant.offer_id] = GrantFacts(
                kind=grant.kind,
                amount=grant.amount,
                currency=grant.currency,
                redeemed_at=grant.redeemed_at,
                policy_id=grant.policy_version.policy_id,
                policy_version_id=grant.policy_version_id,
            )

    def intervention_facts(i: Intervention) -> InterventionFacts:
        invitation = _related(i, "invitation")
        conversation = conversations.get(i.pk)
        return InterventionFacts(
            id=i.pk,
            cart_id=i.cart_id,
            decided_at=i.decided_at,
            in_experiment=i.decision in (Decision.INVITED, Decision.HELD_OUT),
            currency=i.currency,
            stored=Outcome.of(i),
            invitation=InvitationFacts(
                status=invitation.status,
                delivered_at=invitation.delivered_at,
                expires_at=invitation.expires_at,
            )
            if invitation is not None
            else None,
            chat=_chat_facts(conversation, message_counts) if conversation else None,
            offers=tuple(
                OfferFacts(status=o.status, grant=grants.get(o.pk))
                for o in (offers.get(conversation.pk, []) if conversation else [])
            ),
        )

    return OutcomeFacts(
        attribution_window=timedelta(hours=site.attribution_window_hours),
        follow_up_window=timedelta(days=site.follow_up_window_days),
        carts=tuple(_shopper_cart(c, shopper_of[c["id"]]) for c in carts),
        interventions=tuple(intervention_facts(i) for i in interventions),
        contacts=_contacts_load(site, carts, interventions),
    )


def _shopper_cart(cart: dict[str, Any], shopper: int) -> ShopperCart:
    order = None
    if cart["status"] == CartStatus.CONVERTED and cart["order_id"] and cart["converted_at"]:
        order = Order(
            cart_id=cart["id"],
            order_id=cart["order_id"],
            completed_at=cart["converted_at"],
            total=cart["order_total"] if cart["order_total"] is not None else cart["subtotal"],
            currency=cart["currency"],
        )
    return ShopperCart(
        id=cart["id"],
        visitor_id=cart["visitor_id"],
        customer_id=cart["customer_id"],
        shopper=shopper,
        order=order,
    )


def _chat_facts(conversation: Any, message_counts: dict[tuple[int, str], int]) -> ChatFacts:
    return ChatFacts(
        agent_id=conversation.agent_id,
        created_at=conversation.created_at,
        first_agent_message_at=conversation.first_agent_message_at,
        closed_at=conversation.closed_at,
        visitor_messages=message_counts.get((conversation.pk, "visitor"), 0),
        agent_messages=message_counts.get((conversation.pk, "agent"), 0),
    )


def _contacts_load(
    site: Site, carts: list[dict[str, Any]], interventions: list[Intervention]
) -> tuple[ContactFacts, ...]:
    """The site's follow-up contacts with a visitor or customer id of these carts, and
    those credited to one of these interventions."""
    visitor_ids = {c["visitor_id"] for c in carts} - {""}
    customer_ids = {c["customer_id"] for c in carts} - {""}
    query = Q(visitor_id__in=list(visitor_ids)) | Q(intervention__in=[i.pk for i in interventions])
    if customer_ids:
        query |= Q(customer_id__in=list(customer_ids))
    return tuple(
        ContactFacts(
            id=row["pk"],
            visitor_id=row["visitor_id"],
            customer_id=row["customer_id"],
            occurred_at=row["occurred_at"],
            intervention_id=row["intervention_id"],
        )
        for row in FollowUpContact.objects.filter(query, site=site).values(
            "pk", "visitor_id", "customer_id", "occurred_at", "intervention_id"
        )
    )


def _changes_write(
    site: Site,
    changes: OutcomeChanges,
    interventions: list[Intervention],
    carts: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """Credit the contacts that changed, then update the outcomes that changed in one
    statement, then announce the newly credited orders."""
    for contact_id, intervention_id in changes.contacts.items():
        FollowUpContact.objects.filter(pk=contact_id).update(intervention_id=intervention_id)
    changed = [i for i in interventions if i.pk in changes.outcomes]
    for intervention in changed:
        outcome = changes.outcomes[intervention.pk]
        for name in OUTCOME_FIELDS:
            setattr(intervention, name, getattr(outcome, name))
        intervention.outcome_updated_at = now
    if changed:
        Intervention.objects.bulk_update(changed, [*OUTCOME_FIELDS, "outcome_updated_at"])
    if changes.newly_converted:
        newly = set(changes.newly_converted)
        external_ids = {c["id"]: c["external_id"] for c in carts}
        _emit_conversions(site, [i for i in interventions if i.pk in newly], external_ids, now=now)


def _related(obj: Any, name: str) -> Any:
    """A reverse one-to-one that may not exist, without raising."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:  # the RelatedObjectDoesNotExist of that relation
        return None


def invitation_results_sync(*, invitation_ids: Iterable[int], now: datetime) -> None:
    """Copy the invitations' current state to their interventions' outcome, at once.

    Called where an invitation changes (created, shown, accepted, dismissed, expired),
    so the funnel in analytics is current before the outcome is finalised. At most one
    UPDATE per result.
    """
    by_result: dict[str, list[int]] = defaultdict(list)
    for row in Invitation.objects.filter(pk__in=list(invitation_ids)).values(
        "intervention_id", "status", "delivered_at", "expires_at"
    ):
        result = invitation_result(
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


def _emit_conversions(
    site: Site,
    interventions: list[Intervention],
    external_ids: dict[int, str],
    *,
    now: datetime,
) -> None:
    """Announce newly credited orders (``conversion.attributed``), once per order."""

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
