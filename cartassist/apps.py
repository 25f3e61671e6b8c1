from django.apps import AppConfig

from cartassist.core import ports


class CartAssistConfig(AppConfig):
    name = "cartassist"
    label = "cartassist"
    verbose_name = "CartAssist: sites, carts and stalls"

    def ready(self) -> None:
        """Wire the ports (cartassist/core/ports.py) to their implementations.

        The imports are inside ``ready`` on purpose (ADR 0015): models must be loaded
        before the services and tasks are imported, and this is the one place where the
        wiring layer reaches into every layer it connects."""
        # The Celery app is created here, not in cartassist/__init__.py, so that the
        # stdlib-only cartassist.client imports no Django or Celery; every process that
        # starts Django (web, daphne, worker, tests) still gets it before any .delay().
        from agents.services.cart_updates import carts_changed_publish
        from agents.tasks import shopper_email_dispatch
        from cartassist import (
            celery,  # noqa: F401
            tasks,
        )
        from cartassist.integrations.discounts import native_discount_request
        from cartassist.integrations.tasks import native_discount_create_task
        from cartassist.outcomes.services.followups import follow_up_record_chat
        from cartassist.outcomes.services.outcomes import invitation_results_sync

        ports.outcomes_refresh_request.register(tasks.outcomes_refresh_on_commit)
        ports.invitation_results_sync.register(invitation_results_sync)
        ports.follow_up_chat_record.register(follow_up_record_chat)
        ports.webhook_delivery_dispatch.register(tasks.webhook_deliver_task.delay)
        ports.grant_issued.register(native_discount_request)
        ports.native_discount_dispatch.register(native_discount_create_task.delay)
        ports.carts_changed.register(carts_changed_publish)
        ports.shopper_email_dispatch.register(shopper_email_dispatch)
