"""The role groups every installation needs: Agents, Supervisors, Merchandisers.

A frozen copy of cartassist/core/roles.py's GROUP_PERMISSIONS as of this migration
(tests/cartassist/test_setup.py checks that a fresh `migrate` gives exactly what the code
says). Idempotent: groups are created when missing and given the permissions they lack;
nothing is taken away, so what an operator added in the admin stays.

Django creates permissions in a post_migrate signal, i.e. after *all* migrations: on a
fresh database they do not exist yet when this runs, so it creates them first, for the
models as they are at this point of the migration history.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

AGENT_PERMISSIONS = ["cartassist.view_cart", "cartassist.view_cartevent"]
GROUP_PERMISSIONS = {
    "Merchandisers": [
        "cartassist.view_site", "cartassist.change_site",
        "cartassist.view_stallrule", "cartassist.add_stallrule",
        "cartassist.change_stallrule", "cartassist.delete_stallrule",
        "cartassist.view_cart", "cartassist.view_cartevent", "cartassist.view_intervention",
        "cartassist.view_followupcontact",
        "agents.view_invitationcopy", "agents.add_invitationcopy",
        "agents.change_invitationcopy", "agents.delete_invitationcopy",
        "agents.view_savedreply", "agents.add_savedreply",
        "agents.change_savedreply", "agents.delete_savedreply",
        "agents.view_agentprofile", "agents.view_invitation", "agents.view_conversation",
        "policies.view_policy", "policies.add_policy", "policies.change_policy",
        "policies.view_policyversion", "policies.view_offer", "policies.view_grant",
        "policies.view_auditentry",
        "cartassist.view_webhookendpoint", "cartassist.add_webhookendpoint",
        "cartassist.change_webhookendpoint", "cartassist.delete_webhookendpoint",
        "cartassist.view_webhookdelivery",
    ],
    "Agents": AGENT_PERMISSIONS,
    "Supervisors": [*AGENT_PERMISSIONS, "agents.view_conversation", "agents.view_invitation"],
}


def create_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_label in ("cartassist", "agents", "policies"):
        app_config = apps.get_app_config(app_label)
        # Historical app configs have no models module, which create_permissions skips.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, dotted_names in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        for dotted in dotted_names:
            app_label, codename = dotted.split(".", 1)
            group.permissions.add(
                Permission.objects.using(using).get(
                    content_type__app_label=app_label, codename=codename
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("cartassist", "0005_outcomes_followups_webhooks"),
        ("agents", "0001_initial"),
        ("policies", "0001_initial"),
    ]

    # Reversing keeps the groups: they may have members by then.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
