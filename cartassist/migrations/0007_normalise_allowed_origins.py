"""Allowed origins are stored normalised (scheme://host[:port], lower-case, no default port,
no trailing slash) and compared exactly with the browser's Origin header: normalise the
rows saved before that rule."""

from django.db import migrations, models

from cartassist.domain.origins import origins_normalised


def normalise(apps, schema_editor):
    Site = apps.get_model("cartassist", "Site")
    for site in Site.objects.all().only("pk", "allowed_origins"):
        if not isinstance(site.allowed_origins, list):
            continue
        origins = origins_normalised(site.allowed_origins)
        if origins != site.allowed_origins:
            Site.objects.filter(pk=site.pk).update(allowed_origins=origins)


class Migration(migrations.Migration):
    dependencies = [("cartassist", "0006_shopper_identities")]

    operations = [
        migrations.RunPython(normalise, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="site",
            name="allowed_origins",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Browser origins the widget may post from, e.g. https://shop.example "
                "(scheme://host[:port]; stored lower-case, without a default port or trailing /).",
            ),
        ),
    ]
