"""A site's connection to its shop platform, the webhooks it received, the native discounts.

docs/integrations/README.md. Secrets are write-only in admin (integrations/admin.py).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from cartassist.integrations.base import ConnectionInfo
from cartassist.integrations.shopify.adapter import SHOPIFY_API_VERSION


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def validate_store_url(value: str) -> None:
    parts = urlsplit(value)
    local = parts.hostname in LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ValidationError("Use the https:// address of the shop (http only for localhost).")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError("Enter the shop's address only, e.g. https://shop.example.")


class PlatformConnection(models.Model):
    """How CartAssist talks to one site's shop platform (one per site and platform)."""

    site = models.ForeignKey(
        "cartassist.Site", on_delete=models.CASCADE, related_name="platform_connections"
    )
    platform = models.CharField(max_length=16, choices=Platform.choices)
    enabled = models.BooleanField(
        default=True, help_text="When off, webhooks are refused and no discounts are created."
    )
    store_url = models.CharField(
        max_length=200,
        validators=[validate_store_url],
        help_text="Shopify: https://<shop>.myshopify.com. WooCommerce: the WordPress site's "
        "address, e.g. https://shop.example.",
    )
    storefront_url = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_store_url],
        help_text="Where shoppers browse, for discount links (Shopify: your online store "
        "domain). Empty: the store URL.",
    )
    api_version = models.CharField(
        max_length=16,
        blank=True,
        default=SHOPIFY_API_VERSION,
        help_text="Shopify Admin API version, e.g. 2026-07. Not used for WooCommerce (v3).",
    )
    webhook_secret = models.CharField(max_length=200, blank=True)
    previous_webhook_secret = models.CharField(max_length=200, blank=True, default="")
    previous_webhook_secret_expires_at = models.DateTimeField(null=True, blank=True)
    api_key = models.CharField(
        max_length=200, blank=True, help_text="WooCommerce: REST API consumer key (ck_…)."
    )
    api_secret = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "platform"], name="one_connection_per_platform")
        ]
        ordering = ["site", "platform"]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} · {self.store_url}"

    def clean(self) -> None:
        self.store_url = (self.store_url or "").rstrip("/")
        self.storefront_url = (self.storefront_url or "").rstrip("/")

    def webhook_secrets(self, now: datetime) -> tuple[str, ...]:
        """The current secret, plus the previous one during its rotation window."""
        secrets = [self.webhook_secret] if self.webhook_secret else []
        if (
            self.previous_webhook_secret
            and self.previous_webhook_secret_expires_at
            and now < self.previous_webhook_secret_expires_at
        ):
            secrets.append(self.previous_webhook_secret)
        return tuple(secrets)

    def info(self, now: datetime) -> ConnectionInfo:
        store = self.store_url.rstrip("/")
        return ConnectionInfo(
            platform=self.platform,
            store_url=store,
            storefront_url=(self.storefront_url or store).rstrip("/"),
            api_version=self.api_version or SHOPIFY_API_VERSION,
            webhook_secrets=self.webhook_secrets(now),
            api_key=self.api_key,
            api_secret=self.api_secret,
        )


class DeliveryStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    IGNORED = "ignored", "Acknowledged, nothing to apply"


class PlatformDelivery(models.Model):
    """One inbound platform webhook, stored once per delivery id (the de-duplication)."""

    connection = models.ForeignKey(
        PlatformConnection, on_delete=models.CASCADE, related_name="deliveries"
    )
    delivery_id = models.CharField(max_length=64)
    event_id = models.CharField(max_length=64, blank=True)
    topic = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices)
    event_ids = models.JSONField(default=list, blank=True, help_text="Cart events it produced.")
    redeemed = models.JSONField(default=list, blank=True, help_text="Grants it redeemed.")
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "delivery_id"], name="one_row_per_platform_delivery"
            )
        ]
        indexes = [models.Index(fields=["connection", "topic", "event_id"])]
        ordering = ["-received_at"]
        verbose_name_plural = "platform deliveries"

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"


class DiscountStatus(models.TextChoices):
    PENDING = "pending", "Pending: to be created on the platform"
    SENDING = "sending", "Sending to the platform"
    CREATED = "created", "Created on the platform"
    REFUSED = "refused", "Refused by the platform"
    FAILED = "failed", "Failed: the platform could not be reached"
    UNSUPPORTED = "unsupported", "No native discount for this remedy"
    REDEEMED = "redeemed", "Used on an order"


class NativeDiscount(models.Model):
    """A grant turned into the platform's own single-use discount code."""

    grant = models.OneToOneField(
        "policies.Grant", on_delete=models.CASCADE, related_name="native_discount"
    )
    connection = models.ForeignKey(
        PlatformConnection, on_delete=models.CASCADE, related_name="discounts"
    )
    code = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=DiscountStatus.choices, default=DiscountStatus.PENDING
    )
    platform_id = models.CharField(max_length=200, blank=True)
    link = models.CharField(max_length=400, blank=True)
    error = models.TextField(blank=True, help_text="The platform's refusal, or the last failure.")
    attempts = models.PositiveSmallIntegerField(default=0)
    order_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "code"], name="one_discount_per_code")
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.code
