"""The one line a phone menu speaks, or a helpdesk shows first, about one outreach
(docs/API.md, "Outreach lookup"). Pure Python: the facts in, a sentence out.

    "Are you calling about our chat about your delivery charge? Free delivery is applied
     to order A-1042."

The sentence has two parts: what the outreach was about (the stall reason), then what
came of it: the remedy the shopper accepted and where it stands (applied to an order,
ready to use, expired), else the order, else nothing more. Amounts are decimal strings
with their currency code, so that a text-to-speech engine reads them as money.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TOPIC = {
    "shipping_shock": "your delivery charge",
    "payment_failed": "your payment",
    "coupon_rejected": "your discount code",
    "idle": "your order",
}


@dataclass(frozen=True)
class GrantFacts:
    kind: str  # waive_delivery, reduce_delivery, discount, free_gift, hold_stock
    amount: str | None  # decimal string in currency, None for non-monetary remedies
    currency: str
    expires_at: datetime
    redeemed: bool
    order_id: str  # the order it was redeemed for


@dataclass(frozen=True)
class OutreachFacts:
    stall_reason: str
    chatted: bool
    grant: GrantFacts | None  # the newest accepted remedy
    order_id: str  # the order placed after the outreach, if any


def remedy_phrase(grant: GrantFacts) -> str:
    """``"Free delivery"``, ``"A 5.00 EUR delivery reduction"``, ``"A 10.00 EUR discount"``."""
    money = f"{grant.amount} {grant.currency}" if grant.amount is not None else ""
    if grant.kind == "waive_delivery":
        return "Free delivery"
    if grant.kind == "reduce_delivery":
        return f"A {money} delivery reduction" if money else "A delivery reduction"
    if grant.kind == "discount":
        return f"A {money} discount" if money else "A discount"
    if grant.kind == "free_gift":
        return "A free gift"
    if grant.kind == "hold_stock":
        return "Reserved stock"
    return "An offer"


def outreach_summary(facts: OutreachFacts, *, now: datetime) -> str:
    """One sentence about one outreach, for a phone menu (see the module docstring)."""
    topic = TOPIC.get(facts.stall_reason, "your order")
    what = "our chat" if facts.chatted else "our message"
    opening = f"Are you calling about {what} about {topic}?"
    grant = facts.grant
    if grant is not None:
        remedy = remedy_phrase(grant)
        if grant.redeemed:
            order = grant.order_id or facts.order_id
            where = f" to order {order}" if order else ""
            return f"{opening} {remedy} is applied{where}."
        if grant.expires_at > now:
            return f"{opening} {remedy} is ready for you at checkout."
        return f"{opening} {remedy} was offered but has expired."
    if facts.order_id:
        return f"{opening} Your order {facts.order_id} has been placed."
    return opening
