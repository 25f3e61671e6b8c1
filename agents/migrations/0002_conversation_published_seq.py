from django.db import migrations, models
from django.db.models import F


def mark_history_published(apps, schema_editor):
    # Messages stored before this migration were published when they were sent: the
    # next message of a chat must not publish its whole history again.
    Conversation = apps.get_model("agents", "Conversation")
    Conversation.objects.update(published_seq=F("last_seq"))


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="published_seq",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(mark_history_published, migrations.RunPython.noop),
    ]
