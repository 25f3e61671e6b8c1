"""The remedies list: what an agent may offer for a cart now, and why (not)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agents.errors import NotFound
from agents.models import AgentProfile, Conversation
from policies.engine import Allowed, RemedyKind, evaluate
from policies.services.context import conversation_stall_reason, evaluation_context
from policies.specs import current_specs

REMEDY_LABELS = {
    RemedyKind.WAIVE_DELIVERY: "Waive the delivery charge",
    RemedyKind.REDUCE_DELIVERY: "Reduce the delivery charge",
    RemedyKind.DISCOUNT: "Discount",
    RemedyKind.FREE_GIFT: "Free gift",
    RemedyKind.HOLD_STOCK: "Hold stock",
}


def conversation_remedies_list(
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
        stall_reason=conversation_stall_reason(conversation),
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
