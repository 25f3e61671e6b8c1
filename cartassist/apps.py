from django.apps import AppConfig


class CartAssistConfig(AppConfig):
    name = "cartassist"
    label = "cartassist"
    verbose_name = "CartAssist: sites, carts and stalls"

    def ready(self) -> None:
        # The Celery app is created here, not in cartassist/__init__.py, so that the
        # stdlib-only cartassist.client imports no Django or Celery; every process that
        # starts Django (web, daphne, worker, tests) still gets it before any .delay().
        from . import celery  # noqa: F401
