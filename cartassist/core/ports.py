"""Ports: the calls a lower layer makes into a higher one, wired at start-up (ADR 0015).

A domain never imports a layer above it (docs/ARCHITECTURE.md, "Layers"). Where a lower
layer must still set something in motion above it (ingestion asks for an outcome refresh,
the chat tells outcomes an invitation changed, the webhook service hands a delivery to
the task queue), it calls a port here. ``CartAssistConfig.ready`` (cartassist/apps.py,
the wiring layer) registers the one implementation of each port; a call before that
raises ``ImproperlyConfigured``. No signals (house rule 3): one port, one implementation,
called directly. A test that needs another implementation uses ``Port.override``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from django.core.exceptions import ImproperlyConfigured

F = TypeVar("F")


class Port(Generic[F]):
    """One named call into a higher layer, with exactly one registered implementation."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._impl: F | None = None

    def register(self, impl: F) -> None:
        """Wire the implementation (AppConfig.ready); a second registration replaces the
        first, so ``ready`` running twice is harmless."""
        self._impl = impl

    @property
    def registered(self) -> bool:
        return self._impl is not None

    def get(self) -> F:
        if self._impl is None:
            raise ImproperlyConfigured(
                f"The port {self.name!r} is not wired: CartAssistConfig.ready registers it "
                "(cartassist/apps.py); is 'cartassist' in INSTALLED_APPS and Django set up?"
            )
        return self._impl

    @contextmanager
    def override(self, impl: F) -> Iterator[F]:
        """Use ``impl`` within the block (tests), then put the previous one back."""
        previous = self._impl
        self._impl = impl
        try:
            yield impl
        finally:
            self._impl = previous


class OutcomesRefreshRequest(Protocol):
    """Recompute the outcomes of these carts' shoppers once the transaction commits."""

    def __call__(self, cart_ids: list[int]) -> None: ...


class InvitationResultsSync(Protocol):
    """Copy these invitations' state onto their interventions' ``invitation_result``."""

    def __call__(self, *, invitation_ids: list[int], now: datetime) -> None: ...


class FollowUpChatRecord(Protocol):
    """Record the follow-up contact of a chat the shopper started (``conversation`` is an
    ``agents.models.Conversation``; typed loosely, core imports no domain)."""

    def __call__(self, *, conversation: Any, now: datetime) -> Any: ...


class WebhookDeliveryDispatch(Protocol):
    """Hand one pending delivery to the task queue (``webhook_deliver_task.delay``)."""

    def __call__(self, delivery_id: str) -> Any: ...


class GrantIssued(Protocol):
    """A grant was issued (``grant`` is a ``policies.models.Grant``; typed loosely): turn it
    into the shop platform's native discount where the site is connected to one."""

    def __call__(self, *, grant: Any, now: datetime) -> Any: ...


class CartsChanged(Protocol):
    """These carts' state changed (ingested events): tell the agents chatting about them,
    once the transaction commits."""

    def __call__(self, *, site_id: int, cart_ids: list[int]) -> None: ...


class NativeDiscountDispatch(Protocol):
    """Hand one native discount to the task queue (``native_discount_create_task.delay``)."""

    def __call__(self, discount_id: int) -> Any: ...


class ShopperEmailDispatch(Protocol):
    """Hand one queued email to a shopper to the task queue
    (``shopper_email_deliver_task.delay``), once the transaction committed."""

    def __call__(self, email_id: int) -> Any: ...


# Ingestion (orders, merged shoppers), closing a chat, redeeming a grant
# → cartassist.tasks.outcomes_refresh_on_commit.
outcomes_refresh_request: Port[OutcomesRefreshRequest] = Port("outcomes_refresh_request")
# agents.services.invitations → cartassist.outcomes.services.outcomes.invitation_results_sync.
invitation_results_sync: Port[InvitationResultsSync] = Port("invitation_results_sync")
# agents.services.visitor_chats → cartassist.outcomes.services.followups.follow_up_record_chat.
follow_up_chat_record: Port[FollowUpChatRecord] = Port("follow_up_chat_record")
# cartassist.webhooks.services → cartassist.tasks.webhook_deliver_task.delay.
webhook_delivery_dispatch: Port[WebhookDeliveryDispatch] = Port("webhook_delivery_dispatch")

# policies.services.grants.grant_issue → cartassist.integrations.discounts.native_discount_request.
grant_issued: Port[GrantIssued] = Port("grant_issued")

# cartassist.integrations.discounts → integrations.tasks.native_discount_create_task.delay.
native_discount_dispatch: Port[NativeDiscountDispatch] = Port("native_discount_dispatch")

# agents.services.shopper_emails → agents.tasks.shopper_email_deliver_task.delay.
shopper_email_dispatch: Port[ShopperEmailDispatch] = Port("shopper_email_dispatch")
# cartassist.carts.services.ingest → agents.services.cart_updates.carts_changed_publish.
carts_changed: Port[CartsChanged] = Port("carts_changed")

ALL_PORTS: tuple[Port[Any], ...] = (
    outcomes_refresh_request,
    invitation_results_sync,
    follow_up_chat_record,
    webhook_delivery_dispatch,
    grant_issued,
    native_discount_dispatch,
    carts_changed,
    shopper_email_dispatch,
)
