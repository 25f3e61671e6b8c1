"""Merchandisers set a site's helpdesk capacity (pacing; docs/OPERATIONS.md, "Helpdesk
capacity").

A frozen copy of what cartassist/core/roles.py's GROUP_PERMISSIONS grants on this app's
models (tests/cartassist/test_setup.py checks that a fresh `migrate` gives exactly what the
code says). Like policies/migrations/0002_default_groups.py: idempotent, creates the
permissions first (Django creates them only after all migrations), adds what is missing
and takes nothing away.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MERCHANDISER_PERMISSIONS = [
    "view_helpdeskcapacity",
    "add_helpdeskcapacity",
    "change_helpdeskcapacity",
    "delete_helpdeskcapacity",
]


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    app_config = apps.get_app_config("cartassist")
    # Historical app configs have no models module, which create_permissions skips.
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=using)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name="Merchandisers")
    for codename in MERCHANDISER_PERMISSIONS:
        group.permissions.add(
            Permission.objects.using(using).get(
                content_type__app_label="cartassist", codename=codename
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("policies", "0002_default_groups"),
        ("cartassist", "0016_helpdesk_capacity_pacing"),
    ]

    # Reversing keeps the permissions: the group may rely on them by then.
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
