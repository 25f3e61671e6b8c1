"""Platform integration services: apply a verified webhook, create and reconcile native
discounts (docs/integrations/README.md).

- ``platform_delivery_apply``: one verified webhook, stored once per delivery id (and
  once per platform event id), its cart events ingested through
  ``cart_events_ingest`` (the normal rules apply), its order's codes reconciled;
- ``native_discounts_reconcile``: an order's discount codes → our grants redeemed
  (``grant_redeem``), so the outcome is attributed;
- ``native_discount_for_token``: what the shop page asks for (a grant token → its code).

Creating discounts: ``discounts.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from cartassist.carts.models import EventSource, Site
from cartassist.carts.services.ingest import cart_events_ingest
from cartassist.integrations.base import (
    Delivery,
    OrderDiscounts,
)
from cartassist.integrations.models import (
    DeliveryStatus,
    DiscountStatus,
    NativeDiscount,
    PlatformConnection,
    PlatformDelivery,
)
from policies.services.grants import GrantError, grant_redeem, grant_token, grant_verify

logger = logging.getLogger(__name__)


# --- connections ---------------------------------------------------------------------


def platform_connection_save(
    *, connection: PlatformConnection, webhook_secret: str, api_secret: str, now: datetime
) -> PlatformConnection:
    """Save a connection from admin. A new webhook secret replaces the current one, which
    stays valid for ``CARTASSIST_SECRET_ROTATION_GRACE`` (the platform may still sign with
    it for a while: Shopify takes up to an hour). Empty secrets keep the stored ones."""
    if webhook_secret and webhook_secret != connection.webhook_secret:
        if connection.webhook_secret:
            connection.previous_webhook_secret = connection.webhook_secret
            connection.previous_webhook_secret_expires_at = (
                now + settings.CARTASSIST_SECRET_ROTATION_GRACE
            )
        connection.webhook_secret = webhook_secret
    if api_secret:
        connection.api_secret = api_secret
    connection.store_url = connection.store_url.rstrip("/")
    connection.storefront_url = connection.storefront_url.rstrip("/")
    connection.save()
    return connection


# --- inbound webhooks ------------------------------------------------------------------


def connection_for(*, site_key: str, platform: str) -> PlatformConnection | None:
    """The enabled connection of the site with public key ``site_key`` to ``platform``."""
    return (
        PlatformConnection.objects.select_related("site")
        .filter(site__public_key=site_key, platform=platform, enabled=True)
        .first()
    )


@dataclass
class DeliveryResult:
    duplicate: bool
    status: str = ""
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    redeemed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "duplicate": self.duplicate,
            "status": self.status,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "redeemed": self.redeemed,
        }


def platform_delivery_seen(*, connection: PlatformConnection, delivery: Delivery) -> bool:
    """Whether this delivery (or its platform event, for the same topic) is stored."""
    return _seen(connection, delivery) is not None


def _seen(connection: PlatformConnection, delivery: Delivery) -> PlatformDelivery | None:
    rows = PlatformDelivery.objects.filter(connection=connection)
    found = rows.filter(delivery_id=delivery.delivery_id).first()
    if found is None and delivery.event_id:
        found = rows.filter(topic=delivery.topic, event_id=delivery.event_id).first()
    return found


def platform_delivery_apply(
    *,
    connection: PlatformConnection,
    delivery: Delivery,
    events: list[dict[str, Any]],
    order: OrderDiscounts | None,
    now: datetime,
) -> DeliveryResult:
    """Apply one verified platform webhook, once.

    1. A delivery id (or a platform event id of the same topic) already stored is a
       duplicate: nothing is applied again.
    2. Store the delivery row first (its unique constraint settles a race between two
       retries), then ingest its validated cart events as trusted server events.
    3. Redeem the grants behind the order's discount codes.

    All in one transaction: ``EventsRefused`` from ingestion rolls everything back, the
    delivery row included, so a corrected retry is applied.
    """
    existing = _seen(connection, delivery)
    if existing is not None:
        return DeliveryResult(duplicate=True, status=existing.status)
    try:
        with transaction.atomic():
            row = PlatformDelivery.objects.create(
                connection=connection,
                delivery_id=delivery.delivery_id,
                event_id=delivery.event_id,
                topic=delivery.topic,
                status=DeliveryStatus.IGNORED,
                received_at=now,
            )
            result = DeliveryResult(duplicate=False)
            if events:
                ingested = cart_events_ingest(
                    site=connection.site, events=events, source=EventSource.SERVER, now=now
                )
                result.stored, result.duplicates = ingested.stored, ingested.duplicates
            if order is not None and order.codes:
                result.redeemed = native_discounts_reconcile(
                    connection=connection, order=order, now=now
                )
            if events or result.redeemed:
                row.status = DeliveryStatus.APPLIED
            row.event_ids = result.stored
            row.redeemed = result.redeemed
            row.save(update_fields=["status", "event_ids", "redeemed"])
            result.status = row.status
            return result
    except IntegrityError:
        # The same delivery, stored by a concurrent retry a moment ago.
        if _seen(connection, delivery) is None:
            raise
        return DeliveryResult(duplicate=True, status=DeliveryStatus.APPLIED)


def native_discounts_reconcile(
    *, connection: PlatformConnection, order: OrderDiscounts, now: datetime
) -> list[str]:
    """Redeem the grant behind each of the order's codes that is one of ours; the grant
    ids redeemed (or already redeemed for this order). A grant the platform let through
    but CartAssist refuses (expired, already used on another order) keeps its discount's
    status and records why, for admin."""
    redeemed: list[str] = []
    for code in dict.fromkeys(c.strip() for c in order.codes):
        discount = (
            NativeDiscount.objects.select_related("grant")
            .filter(connection=connection, code__iexact=code)
            .first()
        )
        if discount is None:
            continue
        grant = discount.grant
        try:
            grant_redeem(
                site=connection.site,
                token=grant_token(grant),
                order_id=order.order_id,
                idempotency_key=f"{connection.platform}:{order.order_id}",
                now=now,
            )
        except GrantError as error:
            discount.error = (
                f"Used on order {order.order_id}, but the grant was not redeemed: "
                f"{error.code}: {error.message}"
            )
            discount.updated_at = now
            discount.save(update_fields=["error", "updated_at"])
            continue
        discount.status = DiscountStatus.REDEEMED
        discount.order_id = order.order_id
        discount.updated_at = now
        discount.save(update_fields=["status", "order_id", "updated_at"])
        redeemed.append(grant.token_id)
    return redeemed


def native_discount_for_token(*, site: Site, token: str, now: datetime) -> NativeDiscount | None:
    """The native discount of the grant ``token`` names (``GrantError`` for a token that is
    not this site's); ``None`` when the grant has none."""
    grant = grant_verify(site=site, token=token, now=now)
    return NativeDiscount.objects.filter(grant=grant).first()
