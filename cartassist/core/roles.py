"""Who may do what: the Agents, Supervisors and Merchandisers groups and their permissions.

The groups are data every installation needs, so a data migration creates them
(policies/migrations/0002_default_groups.py, a frozen copy of ``GROUP_PERMISSIONS``);
``groups_ensure`` repairs them on a running installation (``manage.py cartassist_user``,
the demo seed). A test keeps the migration and this module in step
(tests/cartassist/test_setup.py). docs/OPERATIONS.md, "First set-up", lists the roles.

Changing a group's permissions: edit ``GROUP_PERMISSIONS`` *and* add a data migration
that grants the new permissions (existing installations only get them that way).
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import Group, Permission
from django.db import transaction


class Role(StrEnum):
    """A person's role, named as on the command line; the value of ``group`` is the group."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MERCHANDISER = "merchandiser"

    @property
    def group(self) -> str:
        return ROLE_GROUPS[self]

    @property
    def works_in_console(self) -> bool:
        """Agents and supervisors chat in the console: they need an agent profile."""
        return self in {Role.AGENT, Role.SUPERVISOR}

    @property
    def is_staff(self) -> bool:
        """Merchandisers and supervisors use the admin; agents only the console."""
        return self in {Role.SUPERVISOR, Role.MERCHANDISER}


ROLE_GROUPS = {
    Role.AGENT: "Agents",
    Role.SUPERVISOR: "Supervisors",
    Role.MERCHANDISER: "Merchandisers",
}

# Agents work in the console only; supervisors also read conversations in the admin;
# merchandisers configure sites, rules, policies, copy and webhooks, and read analytics.
AGENT_PERMISSIONS = ["cartassist.view_cart", "cartassist.view_cartevent"]
GROUP_PERMISSIONS: dict[str, list[str]] = {
    "Merchandisers": [
        "cartassist.view_site", "cartassist.change_site",
        "cartassist.view_stallrule", "cartassist.add_stallrule",
        "cartassist.change_stallrule", "cartassist.delete_stallrule",
        # The helpdesk's capacity (pacing), inline in the site editor.
        "cartassist.view_helpdeskcapacity", "cartassist.add_helpdeskcapacity",
        "cartassist.change_helpdeskcapacity", "cartassist.delete_helpdeskcapacity",
        "cartassist.view_cart", "cartassist.view_cartevent", "cartassist.view_intervention",
        # Analytics (docs/ANALYTICS.md) read interventions (above) and follow-up contacts.
        "cartassist.view_followupcontact",
        "agents.view_invitationcopy", "agents.add_invitationcopy",
        "agents.change_invitationcopy", "agents.delete_invitationcopy",
        "agents.view_savedreply", "agents.add_savedreply",
        "agents.change_savedreply", "agents.delete_savedreply",
        "agents.view_agentprofile", "agents.view_invitation", "agents.view_conversation",
        # Empowerment policies (docs/POLICIES.md): merchandisers write them and read what
        # came of them; deleting is left to superusers (a used policy cannot be deleted).
        "policies.view_policy", "policies.add_policy", "policies.change_policy",
        "policies.view_policyversion", "policies.view_offer", "policies.view_grant",
        "policies.view_auditentry",
        # Webhooks (docs/WEBHOOKS.md): they manage the endpoints and read the delivery log
        # (changing endpoints also allows "Retry now" on deliveries).
        "cartassist.view_webhookendpoint", "cartassist.add_webhookendpoint",
        "cartassist.change_webhookendpoint", "cartassist.delete_webhookendpoint",
        "cartassist.view_webhookdelivery",
        # Platform connections (docs/integrations/): they manage them like webhook endpoints
        # (secrets are write-only), read the platform deliveries and the native discounts,
        # and may try a refused discount again.
        "integrations.view_platformconnection", "integrations.add_platformconnection",
        "integrations.change_platformconnection", "integrations.delete_platformconnection",
        "integrations.view_platformdelivery", "integrations.view_nativediscount",
    ],
    # Agents get no policies permission: they see what they may offer in the console only.
    "Agents": AGENT_PERMISSIONS,
    # Supervisors approve offers in the console (AgentProfile.is_supervisor, or this group);
    # that needs no admin permission.
    "Supervisors": [*AGENT_PERMISSIONS, "agents.view_conversation", "agents.view_invitation"],
}  # fmt: skip


@transaction.atomic
def groups_ensure() -> dict[str, Group]:
    """Create the role groups that are missing and grant each the permissions of
    ``GROUP_PERMISSIONS`` it lacks. Idempotent; never takes a permission away, so what
    an operator added to a group in the admin stays. Returns the groups by name."""
    groups = {}
    for name, dotted_names in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = [dotted.split(".", 1) for dotted in dotted_names]
        permissions = [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in wanted
        ]
        group.permissions.add(*permissions)
        groups[name] = group
    return groups
