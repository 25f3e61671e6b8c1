"""The remedies list (policies/services/remedies.py): what an agent may offer for a cart
now, and why (not). The console's remedies panel shows it for a chat; the policy simulator
shows it for a chosen cart, agent and stall reason, from the same service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from cartassist.demo.seed import demo_policies_ensure
from cartassist.models import Decision, Site
from policies.admin.simulator import Row
from policies.models import PolicyVersion
from policies.services.offers import offer_authorize
from policies.services.remedies import conversation_remedies_list
from tests.fixtures.agents import (
    make_agent,
    make_conversation,
    make_intervention,
    make_stalled_cart,
)
from tests.fixtures.policies import Chat, make_chat, make_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

NO_POLICY = "No active policy offers this remedy."


def not_allowed(kind: str, label: str, code: str = "no_policy", why: str = NO_POLICY) -> dict:
    return {
        "kind": kind, "label": label, "allowed": False, "reason_code": code, "explanation": why,
    }  # fmt: skip


def test_the_console_panel_lists_every_remedy_with_its_bound_or_its_reason(site):
    # given: a chat about a 60.00 cart with 9.90 delivery that stalled for shipping shock
    policy = make_policy(site, approval_above=Decimal("5.00"))
    make_policy(site, name="Big carts only", waive_delivery=False, discount=True,
                discount_max_percent=Decimal("10"), min_cart_value=Decimal("100.00"))  # fmt: skip
    chat = make_chat(site)

    # when
    panel = conversation_remedies_list(
        agent=chat.agent, conversation=chat.conversation, now=timezone.now()
    )

    # then
    assert panel == {
        "conversation_id": chat.conversation.pk,
        "currency": "EUR",
        "flagged_for_farming": False,
        "segment": "new",
        "remedies": [
            {
                "kind": "waive_delivery", "label": "Waive the delivery charge", "allowed": True,
                "bound": "9.90", "currency": "EUR", "policy_name": "Free delivery rescue",
                "policy_version_id": policy.current_version_id, "approval_above": "5.00",
                "exclusive": False, "gift_sku": "", "hold_hours": None,
                "explanation": "Allowed by policy “Free delivery rescue”.",
            },
            not_allowed("reduce_delivery", "Reduce the delivery charge"),
            not_allowed(
                "discount", "Discount", "below_min_value",
                "Cart 60.00 EUR is below the 100.00 EUR policy “Big carts only” requires.",
            ),
            not_allowed("free_gift", "Free gift"),
            not_allowed("hold_stock", "Hold stock"),
        ],
    }  # fmt: skip


# --- the simulator and the console agree ---------------------------------------------------

CONSOLE_REMEDIES = "/console/api/conversations/{}/remedies"
SIMULATOR_URL = "/admin/policies/policy/simulator/"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def as_simulator_row(item: dict[str, Any]) -> Row:
    """A remedy of the console's panel, written as the simulator's row."""
    if not item["allowed"]:
        return Row(item["label"], False, "", "", "", item["explanation"])
    currency = item["currency"]
    bound = f"up to {item['bound']} {currency}" if item["bound"] else ""
    if item["hold_hours"]:
        bound = f"{item['hold_hours']} hours"
    if item["gift_sku"]:
        bound = f"{item['gift_sku']} ({bound.removeprefix('up to ')})"
    approval = item["approval_above"]
    number = PolicyVersion.objects.get(pk=item["policy_version_id"]).number
    return Row(
        item["label"], True, bound, f"“{item['policy_name']}” v{number}",
        f"needs approval above {approval} {currency}" if approval else "", "",
    )  # fmt: skip


def demo_policies(site: Site) -> None:
    demo_policies_ensure(site=site, user=None)


def limited_policies(site: Site) -> None:
    """Approval above 5.00, a daily budget partly spent by an offer on another cart."""
    make_policy(site, approval_above=Decimal("5.00"), daily_budget=Decimal("12.00"))
    other = make_chat(site, visitor_id="visitor-2")
    offer_authorize(
        agent=other.agent, conversation_id=other.conversation.pk, kind="waive_delivery",
        amount="4.00", now=timezone.now(),
    )  # fmt: skip


def gift_hold_and_switched_off(site: Site) -> None:
    make_policy(
        site, name="Socks and a hold", waive_delivery=False, stall_reasons=[],
        free_gift_sku="SOCKS", free_gift_value=Decimal("4.00"), hold_stock_hours=24,
    )  # fmt: skip
    make_policy(site, name="Old discount", active=False, discount=True,
                discount_max_percent=Decimal("10"))  # fmt: skip
    make_policy(site, name="Payment trouble", stall_reasons=["payment_failed"], priority=5)


def invited_chat(site: Site) -> Chat:
    """The shopper answered an invitation sent for a shipping-shock stall."""
    return make_chat(site)


def restalled_chat(site: Site) -> Chat:
    """As above, then the cart stalled again for a failed payment (no new invitation)."""
    chat = make_chat(site)
    make_intervention(
        chat.cart, stall_reason="payment_failed", decision=Decision.SUPPRESSED,
        suppression_reason="frequency_cap", now=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    return chat


def shopper_started_chat(site: Site) -> Chat:
    """A chat the shopper started about a cart that had stalled for shipping shock."""
    agent = make_agent(site)
    cart = make_stalled_cart(site, shipping_fee="9.90")
    make_intervention(cart, decision=Decision.HELD_OUT)
    conversation = make_conversation(site, agent=agent, cart=cart)
    return Chat(agent=agent, cart=cart, conversation=conversation)


@pytest.mark.parametrize("policies", [demo_policies, limited_policies, gift_hold_and_switched_off])
@pytest.mark.parametrize("chat_of", [invited_chat, restalled_chat, shopper_started_chat])
def test_the_simulator_shows_for_a_cart_and_agent_what_the_console_shows_in_their_chat(
    site: Site,
    policies: Callable[[Site], None],
    chat_of: Callable[[Site], Chat],
) -> None:
    # given: the site's policies and a chat about a cart
    policies(site)
    chat = chat_of(site)
    admin = User.objects.create_superuser("root", "root@example.com", "root-pass")

    # when: the agent opens the remedies panel, and the simulator runs on the same cart
    # and agent with the stall reason left empty
    panel = logged_in(chat.agent.user).get(CONSOLE_REMEDIES.format(chat.conversation.pk))
    simulated = logged_in(admin).get(
        SIMULATOR_URL, {"site": site.pk, "cart": chat.cart.pk, "agent": chat.agent.pk}
    )

    # then: the same remedies, bounds, policies and reasons, for the same shopper
    assert (panel.status_code, simulated.status_code) == (200, 200)
    remedies = panel.json()["remedies"]
    assert simulated.context["rows"] == [as_simulator_row(item) for item in remedies]
    facts = simulated.context["facts"]
    assert (facts["segment"], facts["flagged"]) == (
        panel.json()["segment"],
        panel.json()["flagged_for_farming"],
    )
    assert facts["stall_reason"] == (
        chat.conversation.invitation.stall_reason if chat.conversation.invitation else "none"
    )


def test_a_stall_reason_picked_in_the_simulator_is_the_one_evaluated(site: Site) -> None:
    # given: a chat about a shipping-shock stall, and policies for two stall reasons
    gift_hold_and_switched_off(site)
    make_policy(site)
    chat = invited_chat(site)
    admin = User.objects.create_superuser("root", "root@example.com", "root-pass")
    query = {"site": site.pk, "cart": chat.cart.pk, "agent": chat.agent.pk}

    # when
    as_in_chat = logged_in(admin).get(SIMULATOR_URL, {**query, "stall_reason": ""})
    picked = logged_in(admin).get(SIMULATOR_URL, {**query, "stall_reason": "shipping_shock"})
    other = logged_in(admin).get(SIMULATOR_URL, {**query, "stall_reason": "payment_failed"})

    # then
    assert picked.context["rows"] == as_in_chat.context["rows"]
    assert other.context["facts"]["stall_reason"] == "payment_failed"
    assert [(r.label, r.allowed, r.policy) for r in other.context["rows"]][:1] == [
        ("Waive the delivery charge", True, "“Payment trouble” v1")
    ]
    assert [(r.label, r.allowed, r.policy) for r in picked.context["rows"]][:1] == [
        ("Waive the delivery charge", True, "“Free delivery rescue” v1")
    ]
