"""The remedies list: what an agent may offer for a cart now, and why (not).

One evaluation for every place that asks: the console's remedies panel, the policy
simulator, and ``offer_authorize`` (which evaluates again on the rows it locked). Each
builds its context through ``policies.services.context`` and evaluates the site's current
policy versions, so the simulator cannot disagree with what an agent sees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from agents.errors import NotFound
from agents.models import AgentProfile, Conversation
from cartassist.carts.models import Cart, CartStatus, Site
from policies.engine import (
    AgentFacts,
    Allowed,
    CartFacts,
    Evaluation,
    EvaluationContext,
    ExistingRemedy,
    RemedyDecision,
    RemedyKind,
    Segment,
    ShopperFacts,
)
from policies.models import Offer
from policies.services.context import (
    AgentLike,
    cart_stall_reason,
    conversation_stall_reason,
    entered_cart_context,
    evaluation_context,
    spend_snapshot,
)
from policies.specs import CurrentPolicies, current_policies, current_policies_at

REMEDY_LABELS = {
    RemedyKind.WAIVE_DELIVERY: "Waive the delivery charge",
    RemedyKind.REDUCE_DELIVERY: "Reduce the delivery charge",
    RemedyKind.DISCOUNT: "Discount",
    RemedyKind.FREE_GIFT: "Free gift",
    RemedyKind.HOLD_STOCK: "Hold stock",
}


@dataclass(frozen=True)
class RemedyOption:
    """One remedy: the engine's decision, its label, and the number of the policy version
    that allows it (None when not allowed)."""

    decision: RemedyDecision
    label: str
    policy_version_number: int | None


@dataclass(frozen=True)
class RemediesList:
    """Every remedy for one situation, with the context it was decided on."""

    context: EvaluationContext
    evaluation: Evaluation
    policies: int  # how many policy versions were considered
    options: tuple[RemedyOption, ...]


def _spend_added(
    ctx: EvaluationContext, current: CurrentPolicies, *, timezone: str
) -> EvaluationContext:
    """``ctx`` with the live spend of the policies whose spend can change the answer
    (``spend_needed``: they apply and have a budget), read in one query; the spend of the
    others would not change it, and reading it for 1,000 policies costs more than the
    whole evaluation (ADR 0020)."""
    policy_ids = current.index.spend_needed(ctx)
    spend = spend_snapshot(
        policy_ids=policy_ids, agent_id=ctx.agent.agent_id, now=ctx.now, timezone=timezone
    )
    return replace(ctx, spend=spend)


def _remedies_list(ctx: EvaluationContext, current: CurrentPolicies) -> RemediesList:
    evaluation = current.index.evaluate(ctx)  # evaluate(ctx, current.specs), indexed
    numbers = current.numbers
    options = tuple(
        RemedyOption(
            decision=decision,
            label=REMEDY_LABELS[decision.kind],
            policy_version_number=(
                numbers.get(decision.policy_version_id) if isinstance(decision, Allowed) else None
            ),
        )
        for decision in evaluation.decisions
    )
    return RemediesList(ctx, evaluation, len(current.specs), options)


def remedies_list(
    *,
    cart: Cart,
    agent: AgentLike,
    stall_reason: str | None,
    now: datetime,
    existing: tuple[ExistingRemedy, ...] | None = None,
) -> RemediesList:
    """What ``agent`` may offer for ``cart`` stalled for ``stall_reason`` now.

    1. The site's current policy versions (inactive ones too: "switched off" is a
       reason worth showing), validated, from the process's cache under the site's
       policy-set token read now (``policies.specs.current_policies``, ADR 0026; in an
       offer's transaction, the token that transaction sees).
    2. The context from the stored cart, shopper and earlier offers
       (``evaluation_context``), and the live spend of the policies that apply and have
       a budget (``_spend_added``); a ``stall_reason`` of None is the one an agent chatting
       about the cart is given (``cart_stall_reason``); ``existing``: the cart's live
       offers when the caller read them already (``chat_offers_snapshot``).
    3. ``evaluate``: every remedy allowed with its bound, or not allowed with the reason.
    Reads only; changes nothing.
    """
    current = current_policies(site_id=cart.site_id)
    ctx = evaluation_context(
        cart=cart,
        agent=agent,
        stall_reason=cart_stall_reason(cart) if stall_reason is None else stall_reason,
        now=now,
        policy_ids=[],  # the spend: below, of the policies that need it
        timezone=cart.site.timezone,
        existing=existing,
    )
    return _remedies_list(_spend_added(ctx, current, timezone=cart.site.timezone), current)


def entered_cart_remedies_list(
    *,
    site: Site,
    cart: CartFacts,
    segment: Segment,
    agent: AgentLike,
    stall_reason: str,
    now: datetime,
) -> RemediesList:
    """``remedies_list`` for a cart that is not stored (typed into the policy simulator):
    the same policies and spend, the context from ``entered_cart_context``."""
    current = current_policies(site_id=site.pk)
    ctx = entered_cart_context(
        cart=cart,
        segment=segment,
        agent=agent,
        stall_reason=stall_reason,
        now=now,
        policy_ids=[],  # the spend: below, of the policies that need it
        timezone=site.timezone,
    )
    return _remedies_list(_spend_added(ctx, current, timezone=site.timezone), current)


def _panel_item(option: RemedyOption, currency: str) -> dict[str, Any]:
    decision = option.decision
    item: dict[str, Any] = {
        "kind": decision.kind.value,
        "label": option.label,
        "allowed": decision.allowed,
    }
    if isinstance(decision, Allowed):
        bound, approval = decision.bound, decision.approval_above
        item.update(
            bound=str(bound.amount) if bound else None,
            currency=bound.currency if bound else currency,
            policy_name=decision.policy_name,
            policy_version_id=decision.policy_version_id,
            approval_above=str(approval.amount) if approval else None,
            exclusive=decision.exclusive,
            gift_sku=decision.gift_sku,
            hold_hours=decision.hold_hours,
            explanation=f"Allowed by policy “{decision.policy_name}”.",
        )
    else:
        item.update(reason_code=decision.reason.code, explanation=decision.reason.message())
    return item


def order_placed_message(cart: Cart) -> str:
    """Why nothing may be offered for a converted cart."""
    return _order_placed(cart.order_id)


def _order_placed(order_id: str) -> str:
    if order_id:
        return f"The shopper placed order {order_id}: there is nothing to offer."
    return "The shopper placed the order: there is nothing to offer."


def conversation_remedies_list(
    *,
    agent: AgentProfile,
    conversation: Conversation,
    now: datetime,
    existing: tuple[ExistingRemedy, ...] | None = None,
) -> dict[str, Any]:
    """The console's remedies panel: ``remedies_list`` for the chat's cart, its agent and
    the stall reason of the invitation the shopper answered (``conversation_stall_reason``).

    A converted cart (the order is placed) offers nothing: no remedies, and
    ``unavailable`` says why (``{"code": "order_placed", "message": …}``)."""
    cart = conversation.cart
    if cart is None:
        raise NotFound("cart")
    if cart.status == CartStatus.CONVERTED:
        return _unavailable(conversation.pk, cart.currency, cart.order_id)
    remedies = remedies_list(
        cart=cart,
        agent=agent,
        stall_reason=conversation_stall_reason(conversation),
        now=now,
        existing=existing,
    )
    return _panel(conversation.pk, cart.currency, remedies)


@dataclass(frozen=True)
class PanelFacts:
    """Everything the console's remedies panel is decided on, read together
    (``policies.services.panel``): the chat, its cart's facts and status, the stall
    reason of its invitation, the shopper, the cart's live offers and the chat's own, and
    the site's time zone and policy-set token."""

    conversation_id: int
    site_id: int
    timezone: str
    policy_set_token: int
    cart: CartFacts
    converted: bool
    order_id: str
    stall_reason: str
    shopper: ShopperFacts
    existing: tuple[ExistingRemedy, ...]  # the cart's live offers, from any chat (by id)
    offers: tuple[Offer, ...]  # this chat's offers, whatever their status, oldest first


def panel_remedies(*, facts: PanelFacts, agent: AgentLike, now: datetime) -> dict[str, Any]:
    """``conversation_remedies_list`` on facts already read (``PanelFacts``): the set of
    the token read with them (``current_policies_at``), and the live spend of the
    policies that need it (``_spend_added``: one more query, only then)."""
    if facts.converted:
        return _unavailable(facts.conversation_id, facts.cart.currency, facts.order_id)
    current = current_policies_at(site_id=facts.site_id, token=facts.policy_set_token)
    ctx = EvaluationContext(
        cart=facts.cart,
        shopper=facts.shopper,
        stall_reason=facts.stall_reason,
        agent=AgentFacts(agent_id=agent.pk, is_supervisor=agent.is_supervisor),
        now=now,
        existing=facts.existing,
    )
    remedies = _remedies_list(_spend_added(ctx, current, timezone=facts.timezone), current)
    return _panel(facts.conversation_id, facts.cart.currency, remedies)


def _unavailable(conversation_id: int, currency: str, order_id: str) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "currency": currency,
        "flagged_for_farming": False,
        "segment": "",
        "remedies": [],
        "unavailable": {"code": "order_placed", "message": _order_placed(order_id)},
    }


def _panel(conversation_id: int, currency: str, remedies: RemediesList) -> dict[str, Any]:
    shopper = remedies.context.shopper
    return {
        "conversation_id": conversation_id,
        "currency": currency,
        "flagged_for_farming": shopper.flagged_for_farming,
        "segment": shopper.segment.value,
        "remedies": [_panel_item(option, currency) for option in remedies.options],
    }
