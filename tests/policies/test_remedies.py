"""The remedies list (policies/services/remedies.py): what an agent may offer for a cart
now, and why (not). The console's remedies panel shows it for a chat; the policy simulator
shows it for a chosen cart, agent and stall reason, from the same service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from policies.services.remedies import conversation_remedies_list
from tests.fixtures.policies import make_chat, make_policy

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
