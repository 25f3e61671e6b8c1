"""The site and the agents a simulation runs on, and the checks before it starts."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction

from agents.models import AgentProfile
from agents.services.presence import is_online
from cartassist.carts.models import Site, StallRule
from cartassist.demo.seed import DEMO_POLICIES
from cartassist.simulation.population import (
    AGENT_SHIFTS,
    DEFAULT_SITE_NAME,
    SIMULATION_STALL_THRESHOLDS,
)
from policies.models import Policy
from policies.services.versions import policy_version_create

# --- sites and agents ---------------------------------------------------------------------


def simulation_site_key(name: str) -> str:
    """A stable public key for a site the simulator creates (it salts the holdout)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "site"
    return f"pk_sim_{slug}"


@transaction.atomic
def simulation_site_ensure(*, name: str = DEFAULT_SITE_NAME, now: datetime) -> Site:
    """A site of its own for simulated shoppers, with stall rules and the demo's
    empowerment policies; found again by its key on the next run."""
    site, created = Site.objects.get_or_create(
        public_key=simulation_site_key(name),
        defaults={"name": name, "currency": "EUR", "timezone": "Europe/Berlin"},
    )
    if created:
        for stage, threshold in SIMULATION_STALL_THRESHOLDS.items():
            StallRule.objects.create(
                site=site,
                stage=stage,
                inactivity_threshold=threshold,
                minimum_cart_value=Decimal("10"),
            )
        for values in DEMO_POLICIES:
            defaults = {k: v for k, v in values.items() if k != "name"}
            policy, _ = Policy.objects.get_or_create(
                site=site, name=values["name"], defaults=defaults
            )
            policy_version_create(policy=policy, user=None, now=now)
    return site


def site_find(reference: str) -> Site | None:
    """A site by public key, or by name (case-insensitive)."""
    return (
        Site.objects.filter(public_key=reference).first()
        or Site.objects.filter(name__iexact=reference).order_by("pk").first()
    )


def simulated_agents_ensure(site: Site) -> list[AgentProfile]:
    agents = []
    for number, (display_name, _, _) in enumerate(AGENT_SHIFTS, start=1):
        user, created = User.objects.get_or_create(username=f"sim-agent-{site.pk}-{number}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        agent, _ = AgentProfile.objects.get_or_create(
            user=user, defaults={"site": site, "display_name": display_name, "capacity": 3}
        )
        agents.append(agent)
    return agents


class SimulationError(Exception):
    pass


def simulation_site_check(site: Site, agents: list[AgentProfile], now: datetime) -> None:
    if not StallRule.objects.filter(site=site, enabled=True).exists():
        raise SimulationError(f"Site “{site.name}” has no enabled stall rule: no cart would stall.")
    ours = {a.pk for a in agents}
    live = [
        a for a in AgentProfile.objects.filter(site=site).exclude(pk__in=ours) if is_online(a, now)
    ]
    if live:
        raise SimulationError(
            f"Agents are online on site “{site.name}” ({', '.join(str(a) for a in live)}): "
            "simulated chats could be routed to them. Simulate on a site of its own."
        )
