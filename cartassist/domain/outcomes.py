"""The outcome of each intervention, computed from the facts. Pure (ADR 0008).

``compute_outcomes`` takes what the outcome refresh (services/outcomes.py) read for some
shoppers — their carts with their orders, their interventions with the invitation, the
chat, the offers and grants of each, and their follow-up contacts — and returns what
changes: each intervention's new outcome, the orders newly credited, and the contacts
that go to another intervention. The same facts always give the same outcomes.

- Orders are credited per shopper by ``attribution.attribute_orders`` (each order to at
  most one intervention, in the intervention's currency, ADR 0010).
- Each contact of the shoppers goes to the intervention ``attribution.attribute_contact``
  picks; ``follow_ups`` counts the contacts each intervention then has.
- Money counts only grants in the intervention's currency (the cart may have switched
  currency after the decision, ADR 0010); remedy cost only redeemed grants.
- An outcome is final once the attribution window has closed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from cartassist.domain.attribution import Credit, Order, Touch, attribute_contact, attribute_orders

# The stored values of agents.models.InvitationStatus and cartassist.models.InvitationResult
# (tests/cartassist/test_outcomes.py checks they agree).
INVITATION_PENDING: Final = "pending"
INVITATION_DELIVERED: Final = "delivered"
INVITATION_ACCEPTED: Final = "accepted"
INVITATION_DISMISSED: Final = "dismissed"
INVITATION_EXPIRED: Final = "expired"

RESULT_NONE: Final = ""  # not invited
RESULT_IGNORED: Final = "ignored"  # shown, then expired
RESULT_UNDELIVERED: Final = "undelivered"  # expired without being shown
# An invitation in any other status has the result of the same name.
_RESULTS: dict[str, str] = {
    INVITATION_PENDING: "pending",
    INVITATION_DELIVERED: "delivered",
    INVITATION_ACCEPTED: "accepted",
    INVITATION_DISMISSED: "dismissed",
}

# Offer statuses in which the shopper saw the offer.
SHOWN_OFFER_STATUSES = frozenset(
    {"offered", "accepted", "declined", "expired", "refused_on_accept"}
)


# --- the facts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationFacts:
    status: str
    delivered_at: datetime | None
    expires_at: datetime


@dataclass(frozen=True)
class ChatFacts:
    agent_id: int | None
    created_at: datetime
    first_agent_message_at: datetime | None
    closed_at: datetime | None
    visitor_messages: int
    agent_messages: int


@dataclass(frozen=True)
class GrantFacts:
    kind: str
    amount: Decimal | None
    currency: str
    redeemed_at: datetime | None
    policy_id: int
    policy_version_id: int


@dataclass(frozen=True)
class OfferFacts:
    status: str
    grant: GrantFacts | None


@dataclass(frozen=True)
class Outcome:
    """The outcome fields of an intervention (``Intervention`` has the same names)."""

    invitation_result: str
    agent_id: int | None
    first_response_seconds: float | None
    chat_duration_seconds: float | None
    visitor_messages: int
    agent_messages: int
    offers_made: int
    offer_accepted: bool
    remedy_kind: str
    policy_id: int | None
    policy_version_id: int | None
    granted_amount: Decimal
    remedy_cost: Decimal
    converted: bool
    converted_at: datetime | None
    order_id: str
    attribution: str
    revenue: Decimal
    net_revenue: Decimal
    follow_ups: int
    outcome_final: bool

    @classmethod
    def of(cls, intervention: Any) -> Outcome:
        """The outcome stored on any object with these attributes (an ``Intervention``)."""
        return cls(**{name: getattr(intervention, name) for name in OUTCOME_FIELDS})


OUTCOME_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Outcome))


@dataclass(frozen=True)
class InterventionFacts:
    id: int
    cart_id: int
    decided_at: datetime
    in_experiment: bool  # invited or held out
    currency: str
    stored: Outcome  # as stored now
    invitation: InvitationFacts | None = None
    chat: ChatFacts | None = None
    offers: tuple[OfferFacts, ...] = ()  # oldest first


@dataclass(frozen=True)
class ShopperCart:
    id: int
    visitor_id: str
    customer_id: str
    shopper: int
    order: Order | None = None


@dataclass(frozen=True)
class ContactFacts:
    id: int
    visitor_id: str
    customer_id: str
    occurred_at: datetime
    intervention_id: int | None  # as stored now


@dataclass(frozen=True)
class OutcomeFacts:
    """Everything the outcomes of some shoppers depend on."""

    attribution_window: timedelta
    follow_up_window: timedelta
    carts: tuple[ShopperCart, ...]  # every cart of the shoppers
    interventions: tuple[InterventionFacts, ...]  # every intervention on those carts
    # The site's contacts with one of the shoppers' ids, and those credited to one of the
    # interventions (the same contacts, as long as ids are never unlinked).
    contacts: tuple[ContactFacts, ...]


@dataclass(frozen=True)
class OutcomeChanges:
    outcomes: dict[int, Outcome]  # intervention id → its new outcome, where it changed
    newly_converted: list[int]  # interventions credited an order they did not have
    contacts: dict[int, int | None]  # contact id → its new intervention, where it changed


# --- the computation ---------------------------------------------------------------------


def compute_outcomes(facts: OutcomeFacts, *, now: datetime) -> OutcomeChanges:
    """What changes in the outcomes of these shoppers (see the module docstring)."""
    touches = _touches_by_shopper(facts)
    credits = _credits(facts, touches)
    contacts = _contacts_reattributed(facts, touches)
    follow_ups = Counter(
        contacts.get(c.id, c.intervention_id) for c in facts.contacts
    )  # after reattribution
    outcomes: dict[int, Outcome] = {}
    newly_converted: list[int] = []
    for intervention in facts.interventions:
        outcome = intervention_outcome(
            intervention,
            credits.get(intervention.id),
            follow_ups=follow_ups[intervention.id],
            attribution_window=facts.attribution_window,
            now=now,
        )
        if outcome == intervention.stored:
            continue
        outcomes[intervention.id] = outcome
        before = intervention.stored
        if outcome.converted and (not before.converted or before.order_id != outcome.order_id):
            newly_converted.append(intervention.id)
    return OutcomeChanges(outcomes=outcomes, newly_converted=newly_converted, contacts=contacts)


def intervention_outcome(
    intervention: InterventionFacts,
    credit: Credit | None,
    *,
    follow_ups: int,
    attribution_window: timedelta,
    now: datetime,
) -> Outcome:
    """One intervention's outcome, given the order credited to it (if any)."""
    offers = _offers_outcome(intervention.offers, currency=intervention.currency)
    conversion = _conversion_outcome(credit)
    return Outcome(
        invitation_result=_invitation_result(intervention.invitation, now=now),
        **_chat_outcome(intervention.chat),
        **offers,
        **conversion,
        net_revenue=conversion["revenue"] - offers["remedy_cost"],
        follow_ups=follow_ups,
        outcome_final=now >= intervention.decided_at + attribution_window,
    )


def _chat_outcome(chat: ChatFacts | None) -> dict[str, Any]:
    if chat is None:
        return {
            "agent_id": None,
            "first_response_seconds": None,
            "chat_duration_seconds": None,
            "visitor_messages": 0,
            "agent_messages": 0,
        }
    return {
        "agent_id": chat.agent_id,
        "first_response_seconds": _seconds_since(chat, chat.first_agent_message_at),
        "chat_duration_seconds": _seconds_since(chat, chat.closed_at),
        "visitor_messages": chat.visitor_messages,
        "agent_messages": chat.agent_messages,
    }


def _offers_outcome(offers: tuple[OfferFacts, ...], *, currency: str) -> dict[str, Any]:
    grants = [o.grant for o in offers if o.grant is not None]
    first = grants[0] if grants else None
    # Money only in the intervention's currency (ADR 0010): a grant in another one (the
    # cart switched currency after the decision) is not added to it.
    same = [g for g in grants if g.currency == currency]
    return {
        "offers_made": sum(1 for o in offers if o.status in SHOWN_OFFER_STATUSES),
        "offer_accepted": bool(grants),
        "remedy_kind": first.kind if first else "",
        "policy_id": first.policy_id if first else None,
        "policy_version_id": first.policy_version_id if first else None,
        "granted_amount": _total(g.amount for g in same),
        "remedy_cost": _total(g.amount for g in same if g.redeemed_at is not None),
    }


def _conversion_outcome(credit: Credit | None) -> dict[str, Any]:
    if credit is None:
        return {
            "converted": False,
            "converted_at": None,
            "order_id": "",
            "attribution": "",
            "revenue": Decimal(0),
        }
    return {
        "converted": True,
        "converted_at": credit.order.completed_at,
        "order_id": credit.order.order_id,
        "attribution": credit.attribution,
        "revenue": credit.order.total,
    }


def invitation_result(
    *, status: str, delivered_at: datetime | None, expires_at: datetime, now: datetime
) -> str:
    """What became of an invitation, as the outcome records it (an ``InvitationResult``)."""
    if status in (INVITATION_PENDING, INVITATION_DELIVERED) and expires_at <= now:
        status = INVITATION_EXPIRED  # the housekeeping pass has not caught up yet
    if status == INVITATION_EXPIRED:
        return RESULT_IGNORED if delivered_at else RESULT_UNDELIVERED
    return _RESULTS[status]


def _invitation_result(invitation: InvitationFacts | None, *, now: datetime) -> str:
    if invitation is None:
        return RESULT_NONE
    return invitation_result(
        status=invitation.status,
        delivered_at=invitation.delivered_at,
        expires_at=invitation.expires_at,
        now=now,
    )


def _seconds_since(chat: ChatFacts, moment: datetime | None) -> float | None:
    return (moment - chat.created_at).total_seconds() if moment else None


def _total(amounts: Iterable[Decimal | None]) -> Decimal:
    return sum((amount or Decimal(0) for amount in amounts), Decimal(0))


def _touches_by_shopper(facts: OutcomeFacts) -> dict[int, list[Touch]]:
    shopper_of = {cart.id: cart.shopper for cart in facts.carts}
    touches: dict[int, list[Touch]] = defaultdict(list)
    for i in facts.interventions:
        touches[shopper_of[i.cart_id]].append(
            Touch(
                id=i.id,
                cart_id=i.cart_id,
                decided_at=i.decided_at,
                window=facts.attribution_window,
                in_experiment=i.in_experiment,
                currency=i.currency,
            )
        )
    return touches


def _credits(facts: OutcomeFacts, touches: dict[int, list[Touch]]) -> dict[int, Credit]:
    """The order credited to each intervention that converted, shopper by shopper."""
    orders: dict[int, list[Order]] = defaultdict(list)
    for cart in facts.carts:
        if cart.order is not None:
            orders[cart.shopper].append(cart.order)
    credits: dict[int, Credit] = {}
    for shopper, shopper_touches in touches.items():
        credits.update(attribute_orders(shopper_touches, orders.get(shopper, [])))
    return credits


def _contacts_reattributed(
    facts: OutcomeFacts, touches: dict[int, list[Touch]]
) -> dict[int, int | None]:
    """The contacts of these shoppers whose intervention changes, and the new one."""
    by_visitor = {c.visitor_id: c.shopper for c in facts.carts}
    by_customer = {c.customer_id: c.shopper for c in facts.carts if c.customer_id}
    changed: dict[int, int | None] = {}
    for contact in facts.contacts:
        ours = (contact.visitor_id and contact.visitor_id in by_visitor) or (
            contact.customer_id in by_customer
        )
        if not ours:
            continue  # credited to one of these interventions, but of no id of these shoppers
        shopper = by_customer.get(contact.customer_id) or by_visitor.get(contact.visitor_id)
        target = attribute_contact(
            touches.get(shopper, []) if shopper is not None else [],
            contact_at=contact.occurred_at,
            follow_up_window=facts.follow_up_window,
        )
        if contact.intervention_id != target:
            changed[contact.id] = target
    return changed
