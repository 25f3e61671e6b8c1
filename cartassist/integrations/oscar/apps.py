from django.apps import AppConfig


class CartAssistOscarConfig(AppConfig):
    """The integration app, in the Oscar shop's INSTALLED_APPS (after Oscar's apps)."""

    name = "cartassist.integrations.oscar"
    label = "cartassist_oscar"
    verbose_name = "CartAssist for Oscar"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Oscar's own extension point for placed orders is its order_placed signal
        # (oscar.apps.order.signals); CartAssist's "no signals" house rule is about
        # CartAssist's own code, not about plugging into Oscar the way Oscar documents.
        from . import receivers

        receivers.connect()
