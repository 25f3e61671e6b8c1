"""Webhooks to the shop backend (docs/WEBHOOKS.md): endpoints and every delivery."""

from __future__ import annotations

import uuid

from django.db import models


class WebhookEvent(models.TextChoices):
    INTERVENTION_CREATED = "intervention.created", "Intervention created"
    GRANT_ISSUED = "grant.issued", "Grant issued"
    GRANT_REDEEMED = "grant.redeemed", "Grant redeemed"
    CONVERSION_ATTRIBUTED = "conversion.attributed", "Conversion attributed"
    FOLLOW_UP_REPORTED = "follow_up.reported", "Follow-up contact reported"


def all_webhook_events() -> list[str]:
    return [event.value for event in WebhookEvent]


class WebhookEndpoint(models.Model):
    site = models.ForeignKey(
        "cartassist.Site", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500, help_text="HTTPS URL on the shop backend.")
    events = models.JSONField(
        default=all_webhook_events, help_text="Event types sent to this endpoint."
    )
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "url"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Failed, will retry"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event for one endpoint. ``delivery_id`` is sent with every attempt, so the
    shop can de-duplicate; ``dedupe_key`` makes sure an event is queued only once."""

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    dedupe_key = models.CharField(max_length=80, help_text="e.g. grant:<id>")
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "dedupe_key"], name="webhook_event_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_due",
                condition=models.Q(status__in=["pending", "retrying", "sending"]),
            )
        ]
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"
