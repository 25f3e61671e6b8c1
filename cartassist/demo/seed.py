"""Seed data for the embedded demo. Idempotent: running it twice changes nothing.

The logins below have passwords printed in the README: ``manage.py demo`` refuses to seed
them under production settings (docs/OPERATIONS.md, "First set-up", is the way there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone, translation

from agents.models import AgentProfile, InvitationCopy, SavedReply
from agents.services.invitations import DEFAULT_COPY
from cartassist.carts.models import Site, Stage, StallReason, StallRule
from cartassist.core.roles import groups_ensure
from policies.models import Policy, StackingChoices
from policies.services.versions import policy_version_create

DEMO_SITE_KEY = "pk_demo_storefront"
DEMO_STALL_THRESHOLDS = {
    Stage.CART: timedelta(seconds=60),
    Stage.CONTACT: timedelta(seconds=45),
    Stage.SHIPPING: timedelta(seconds=20),
    Stage.PAYMENT: timedelta(seconds=30),
}
AGENT_LOGIN = ("agent", "agent-demo-password")
MERCHANDISER_LOGIN = ("merchandiser", "merchandiser-demo-password")
SUPERVISOR_LOGIN = ("supervisor", "supervisor-demo-password")
AGENT_DISPLAY_NAME = "Alex from {site}"
SUPERVISOR_DISPLAY_NAME = "Sam (supervisor)"

# One saved reply per stall reason, plus general ones (blank stall reason: always offered).
# Agents insert them into the message box and edit before sending.
DEMO_SAVED_REPLIES: list[tuple[str, str, str]] = [
    (
        "",
        "Greeting",
        "Hi, I'm here to help with your order. What can I do for you?",
    ),
    (
        "",
        "Anything else?",
        "Is there anything else I can help you with before you complete your order?",
    ),
    (
        StallReason.SHIPPING_SHOCK,
        "Delivery options",
        "I can see the delivery charge for your order. Let me check which delivery options "
        "I can offer you.",
    ),
    (
        StallReason.PAYMENT_FAILED,
        "Payment declined",
        "I'm sorry your payment didn't go through. Nothing has been charged. You can try "
        "another card, or I can tell you which other payment methods we accept.",
    ),
    (
        StallReason.COUPON_REJECTED,
        "Coupon conditions",
        "Let me check that coupon for you. Some codes only apply to certain products or "
        "above a minimum order value.",
    ),
    (
        StallReason.IDLE,
        "Still there?",
        "Just checking in: do you have a question about your order, delivery or payment?",
    ),
]


# The demo's empowerment policies (docs/POLICIES.md). The storefront journey balks at a
# 9.90 EUR delivery charge: waiving it must be allowed without a supervisor (approval
# only above 15.00), and offering more than the 10.00 cap is refused.
DEMO_POLICIES: list[dict[str, object]] = [
    {
        "name": "Free delivery rescue",
        "priority": 10,
        "stall_reasons": [StallReason.SHIPPING_SHOCK],
        "min_cart_value": Decimal("30.00"),
        "waive_delivery": True,
        "waive_delivery_cap": Decimal("10.00"),
        "reduce_delivery": True,
        "reduce_delivery_max_percent": Decimal("50"),
        "max_per_offer": Decimal("10.00"),
        "daily_budget": Decimal("100.00"),
        "approval_above": Decimal("15.00"),
        "stacking": StackingChoices.COMBINABLE,
    },
    {
        "name": "Loyal customer discount",
        "priority": 20,
        "segments": ["returning", "vip"],
        "discount": True,
        "discount_max_percent": Decimal("10"),
        "discount_max_amount": Decimal("15.00"),
        "monthly_budget": Decimal("500.00"),
        "approval_above": Decimal("10.00"),
        "stacking": StackingChoices.EXCLUSIVE,
    },
]


@dataclass(frozen=True)
class DemoSeed:
    site: Site
    agent: User
    merchandiser: User
    supervisor: User


def _user(username: str, password: str, *, staff: bool, group: Group) -> User:
    user, created = User.objects.get_or_create(username=username, defaults={"is_staff": staff})
    if created:
        user.set_password(password)
        user.save()
    user.groups.add(group)
    return user


@transaction.atomic
def demo_seed(*, origins: list[str]) -> DemoSeed:
    """Create (or update) the demo site, its stall rules, the agent, supervisor and
    merchandiser logins with their groups, and the chat copy and saved replies."""
    site, _ = Site.objects.get_or_create(
        public_key=DEMO_SITE_KEY,
        defaults={"name": "Demo Storefront", "currency": "EUR", "timezone": "Europe/Berlin"},
    )
    site.allowed_origins = sorted(set(site.allowed_origins) | set(origins))
    site.holdout_share = Decimal("0.100")
    site.save()
    for stage, threshold in DEMO_STALL_THRESHOLDS.items():
        StallRule.objects.update_or_create(
            site=site,
            stage=stage,
            defaults={"inactivity_threshold": threshold, "minimum_cart_value": Decimal("10")},
        )
    groups = groups_ensure()
    agent = _user(*AGENT_LOGIN, staff=False, group=groups["Agents"])
    merchandiser = _user(*MERCHANDISER_LOGIN, staff=True, group=groups["Merchandisers"])
    supervisor = _user(*SUPERVISOR_LOGIN, staff=True, group=groups["Supervisors"])
    # get_or_create: a display name or capacity edited in admin survives a re-seed.
    AgentProfile.objects.get_or_create(
        user=agent,
        defaults={
            "site": site,
            "display_name": AGENT_DISPLAY_NAME.format(site=site.name),
            "capacity": 3,
        },
    )
    AgentProfile.objects.get_or_create(
        user=supervisor,
        defaults={
            "site": site,
            "display_name": SUPERVISOR_DISPLAY_NAME,
            "capacity": 5,
            "is_supervisor": True,
        },
    )
    # The built-in copy, written out in each of the site's languages for merchandisers
    # to edit in admin.
    for language in site.languages or ["en"]:
        with translation.override(language):
            for reason, (headline, body) in DEFAULT_COPY.items():
                InvitationCopy.objects.get_or_create(
                    site=site,
                    stall_reason=reason,
                    language=language,
                    defaults={"headline": str(headline), "body": str(body)},
                )
    for reason, title, text in DEMO_SAVED_REPLIES:
        SavedReply.objects.get_or_create(
            site=site, title=title, defaults={"stall_reason": reason, "text": text}
        )
    demo_policies_ensure(site=site, user=merchandiser)
    return DemoSeed(site=site, agent=agent, merchandiser=merchandiser, supervisor=supervisor)


def demo_policies_ensure(*, site: Site, user: User) -> list[Policy]:
    """The demo policies, each with a version (through the same service as the admin).
    get_or_create by name: a merchandiser's edits survive a re-seed, and an unchanged
    policy gets no new version."""
    policies = []
    for values in DEMO_POLICIES:
        defaults = {k: v for k, v in values.items() if k != "name"}
        policy, _ = Policy.objects.get_or_create(site=site, name=values["name"], defaults=defaults)
        policy_version_create(policy=policy, user=user, now=timezone.now())
        policies.append(policy)
    return policies
