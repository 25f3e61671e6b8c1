"""Who may use the console: members of the Agents or Supervisors group with a profile."""

from __future__ import annotations

from typing import Any

from agents.models import AgentProfile

AGENT_GROUPS = {"Agents", "Supervisors"}


def console_agent(user: Any) -> AgentProfile | None:
    """The user's agent profile if they may use the console, else None."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not user.groups.filter(name__in=AGENT_GROUPS).exists():
        return None
    profile = AgentProfile.objects.select_related("site").filter(user=user).first()
    if profile is None:
        return None
    if user.groups.filter(name="Supervisors").exists() and not profile.is_supervisor:
        profile.is_supervisor = True
    return profile
