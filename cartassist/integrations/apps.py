from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "cartassist.integrations"
    label = "integrations"
    verbose_name = "CartAssist: platform integrations"
    default_auto_field = "django.db.models.BigAutoField"
