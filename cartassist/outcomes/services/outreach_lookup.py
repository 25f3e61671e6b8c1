"""The outreach lookup: what CartAssist told a shopper who now calls or writes to the
shop (docs/API.md, "Outreach lookup"; docs/integrations/helpdesk.md).

Read only. The shopper is found by one key: the shop's customer id, the widget's visitor
id, or an email or phone number that signed events gave a cart (matched by its keyed
hash, cartassist/carts/services/contact_identities.py); then widened to the whole shopper, every
cart linked transitively by visitor and customer ids (ADR 0008). The answer is the
shopper's outreach (invited interventions) within the site's follow-up window, newest
first, at most ``LOOKUP_LIMIT`` of them, each with at most ``MESSAGE_LIMIT`` messages.

Everything is scoped to the site: another site's shopper with the same ids is another
shopper. A shopper nobody reached out to, and one CartAssist never saw, answer the same
(an empty list), so the lookup tells nobody whether a customer id or an email is known.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from agents.models import Message
from cartassist.carts.models import Cart, Decision, Intervention, Site
from cartassist.carts.services.contact_identities import contact_cart_ids
from cartassist.carts.services.shoppers import cart_identities, shopper_cart_filter
from cartassist.domain.attribution import CUSTOMER, VISITOR, IdentityKey
from cartassist.domain.contacts import EMAIL, PHONE
from cartassist.domain.outcomes import SHOWN_OFFER_STATUSES
from cartassist.domain.outreach_summary import GrantFacts, OutreachFacts, outreach_summary
from cartassist.domain.webhooks import json_safe
from policies.engine.money import quantize
from policies.models import Grant, Offer

LOOKUP_KEYS = ("customer_id", "visitor_id", "email", "phone")
LOOKUP_LIMIT = 5  # outreach items per answer, newest first
MESSAGE_LIMIT = 20  # chat messages per item (the last ones)
MAX_CARTS = 500  # carts of one shopper read (as services/followups.py)


@dataclass(frozen=True)
class LookupResult:
    window_days: int
    outreach: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"window_days": self.window_days, "outreach": self.outreach}


def shopper_cart_ids(*, site_id: int, key: str, value: str) -> list[int]:
    """Every cart of the shopper ``key`` (a ``LOOKUP_KEYS`` name) = ``value`` names,
    whole; ``value`` already normalised (email, phone). Empty when none is known."""
    keys: set[IdentityKey]
    if key == "customer_id":
        keys = {(CUSTOMER, value)}
    elif key == "visitor_id":
        keys = {(VISITOR, value)}
    elif key in (EMAIL, PHONE):
        seeds = Cart.objects.filter(
            site_id=site_id,
            pk__in=contact_cart_ids(site_id=site_id, kind=key, normalised=value),
        ).values_list("visitor_id", "customer_id")
        keys = set()
        for visitor_id, customer_id in seeds:
            keys |= cart_identities(visitor_id=visitor_id, customer_ids=[customer_id])
        if not keys:
            return []
    else:
        raise ValueError(f"unknown lookup key {key!r}")
    query, _ = shopper_cart_filter(site_id=site_id, keys=keys)
    return list(
        Cart.objects.filter(query, site_id=site_id)
        .order_by("-pk")
        .values_list("pk", flat=True)[:MAX_CARTS]
    )


def outreach_lookup(*, site: Site, key: str, value: str, now: datetime) -> LookupResult:
    """The recent outreach to one shopper of ``site`` (see the module docstring).

    1. Find the shopper's carts (``shopper_cart_ids``).
    2. Their invited interventions decided within the follow-up window, newest first,
       at most ``LOOKUP_LIMIT``, with cart, invitation, conversation and agent.
    3. Load offers and grants of those chats (two queries) and the last messages of
       each chat (one bounded query per chat).
    4. Build each item and its one-line summary (domain/outreach_summary.py).
    """
    window = timedelta(days=site.follow_up_window_days)
    cart_ids = shopper_cart_ids(site_id=site.pk, key=key, value=value)
    if not cart_ids:
        return LookupResult(window_days=site.follow_up_window_days, outreach=[])
    rows = list(
        Intervention.objects.filter(
            site=site,
            cart_id__in=cart_ids,
            decision=Decision.INVITED,
            decided_at__gte=now - window,
            decided_at__lte=now,
        )
        .select_related("cart", "invitation__conversation__agent", "agent")
        .order_by("-decided_at", "-pk")[:LOOKUP_LIMIT]
    )
    conversations = {i.pk: _conversation(i) for i in rows}
    conversation_ids = [c.pk for c in conversations.values() if c is not None]
    offers: dict[int, list[Any]] = defaultdict(list)
    for offer in Offer.objects.filter(
        conversation_id__in=conversation_ids, status__in=sorted(SHOWN_OFFER_STATUSES)
    ).order_by("created_at", "pk"):
        offers[offer.conversation_id].append(offer)
    grants: dict[int, list[Any]] = defaultdict(list)
    for grant in (
        Grant.objects.filter(offer__conversation_id__in=conversation_ids)
        .select_related("offer")
        .order_by("issued_at", "pk")
    ):
        grants[grant.offer.conversation_id].append(grant)
    # The last messages of each chat: one bounded query per chat (at most LOOKUP_LIMIT),
    # so a long chat is never read whole.
    messages = {
        conversation_id: list(
            Message.objects.filter(conversation_id=conversation_id)
            .exclude(sender="system")
            .order_by("-seq")[:MESSAGE_LIMIT]
        )
        for conversation_id in conversation_ids
    }
    items = []
    for i in rows:
        conversation = conversations[i.pk]
        cid = conversation.pk if conversation is not None else 0
        items.append(
            _item(
                i,
                conversation=conversation,
                offers=offers.get(cid, []),
                grants=grants.get(cid, []),
                messages=list(reversed(messages.get(cid, []))),
                now=now,
            )
        )
    return LookupResult(window_days=site.follow_up_window_days, outreach=items)


def _conversation(intervention: Intervention) -> Any:
    try:
        return intervention.invitation.conversation
    except ObjectDoesNotExist:  # no invitation, or one never accepted
        return None


def _invitation(intervention: Intervention) -> Any:
    try:
        return intervention.invitation
    except ObjectDoesNotExist:
        return None


def first_name(display_name: str) -> str:
    """The agent's first name, as a shopper was told it (``"Ada L."`` → ``"Ada"``)."""
    parts = display_name.split()
    return parts[0] if parts else ""


def _money(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else str(quantize(amount, currency))


def grant_status(grant: Any, *, now: datetime) -> str:
    """``redeemed``, ``expired`` or ``active`` (ready to use at checkout)."""
    if grant.redeemed_at is not None:
        return "redeemed"
    return "expired" if grant.expires_at <= now else "active"


def _order(i: Intervention) -> dict[str, Any] | None:
    """The order credited to the outreach, else the order placed on its cart."""
    if i.order_id:
        return {
            "order_id": i.order_id,
            "total": _money(i.revenue, i.currency),
            "currency": i.currency,
        }
    cart = i.cart
    if cart.order_id:
        return {
            "order_id": cart.order_id,
            "total": _money(cart.order_total, cart.currency),
            "currency": cart.currency,
        }
    return None


def _item(
    i: Intervention,
    *,
    conversation: Any,
    offers: list[Any],
    grants: list[Any],
    messages: list[Any],
    now: datetime,
) -> dict[str, Any]:
    invitation = _invitation(i)
    order = _order(i)
    agent = conversation.agent if conversation is not None else None
    newest_grant = grants[-1] if grants else None
    facts = OutreachFacts(
        stall_reason=i.stall_reason,
        chatted=conversation is not None,
        grant=GrantFacts(
            kind=newest_grant.kind,
            amount=_money(newest_grant.amount, newest_grant.currency),
            currency=newest_grant.currency,
            expires_at=newest_grant.expires_at,
            redeemed=newest_grant.redeemed_at is not None,
            order_id=newest_grant.order_id,
        )
        if newest_grant is not None
        else None,
        order_id=order["order_id"] if order else "",
    )
    return {
        "intervention_id": i.pk,
        "cart_id": i.cart.external_id,
        "reached_out_at": json_safe(i.decided_at),
        "stall_reason": i.stall_reason,
        "stage": i.stage,
        "cart_value": _money(i.cart_value, i.currency),
        "currency": i.currency,
        "verification_code": invitation.verification_code if invitation else None,
        "invitation_result": i.invitation_result,
        "chat": {
            "agent_first_name": first_name(agent.display_name) if agent else None,
            "started_at": json_safe(conversation.created_at),
            "closed_at": json_safe(conversation.closed_at) if conversation.closed_at else None,
            "messages": [
                {
                    "sender": "agent" if m.sender == "agent" else "shopper",
                    "text": m.text[:1000],
                    "sent_at": json_safe(m.created_at),
                }
                for m in messages
            ],
        }
        if conversation is not None
        else None,
        "offers": [
            {
                "kind": o.kind,
                "amount": _money(o.amount, o.currency),
                "currency": o.currency,
                "status": o.status,
                "total_before": _money(o.total_before, o.currency),
                "total_after": _money(o.total_after, o.currency),
                "offered_at": json_safe(o.created_at),
            }
            for o in offers
        ],
        "grants": [
            {
                "grant_id": g.token_id,
                "kind": g.kind,
                "amount": _money(g.amount, g.currency),
                "currency": g.currency,
                "status": grant_status(g, now=now),
                "expires_at": json_safe(g.expires_at),
                "redeemed_at": json_safe(g.redeemed_at) if g.redeemed_at else None,
                "order_id": g.order_id,
            }
            for g in grants
        ],
        "order": order,
        "summary": outreach_summary(facts, now=now),
    }
