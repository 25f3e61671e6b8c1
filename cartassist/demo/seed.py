"""Seed data for the embedded demo. Idempotent: running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

from cartassist.models import Site, Stage, StallRule

DEMO_SITE_KEY = "pk_demo_storefront"
DEMO_STALL_THRESHOLDS = {
    Stage.CART: timedelta(seconds=60),
    Stage.CONTACT: timedelta(seconds=45),
    Stage.SHIPPING: timedelta(seconds=20),
    Stage.PAYMENT: timedelta(seconds=30),
}
AGENT_LOGIN = ("agent", "agent-demo-password")
MERCHANDISER_LOGIN = ("merchandiser", "merchandiser-demo-password")

# Who may do what (docs/PERMISSIONS.md). Later issues add their own permissions here.
GROUP_PERMISSIONS = {
    "Merchandisers": [
        "cartassist.view_site", "cartassist.change_site",
        "cartassist.view_stallrule", "cartassist.add_stallrule",
        "cartassist.change_stallrule", "cartassist.delete_stallrule",
        "cartassist.view_cart", "cartassist.view_cartevent", "cartassist.view_intervention",
    ],
    "Agents": ["cartassist.view_cart", "cartassist.view_cartevent"],
}  # fmt: skip


@dataclass(frozen=True)
class DemoSeed:
    site: Site
    agent: User
    merchandiser: User


def groups_ensure() -> dict[str, Group]:
    groups = {}
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = []
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            perms.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(perms)
        groups[name] = group
    return groups


def _user(username: str, password: str, *, staff: bool, group: Group) -> User:
    user, created = User.objects.get_or_create(username=username, defaults={"is_staff": staff})
    if created:
        user.set_password(password)
        user.save()
    user.groups.add(group)
    return user


@transaction.atomic
def demo_seed(*, origins: list[str]) -> DemoSeed:
    """Create (or update) the demo site, its stall rules, and the agent and merchandiser."""
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
    return DemoSeed(site=site, agent=agent, merchandiser=merchandiser)
