"""The append-only cart event log."""

from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    CART_UPDATED = "cart_updated", "Cart updated"
    CHECKOUT_STEP = "checkout_step", "Checkout step reached"
    SHIPPING_QUOTED = "shipping_quoted", "Shipping quoted"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    COUPON_REJECTED = "coupon_rejected", "Coupon rejected"
    ORDER_COMPLETED = "order_completed", "Order completed"
    OPTED_OUT = "opted_out", "Visitor opted out of proactive chat"


class EventSource(models.TextChoices):
    WIDGET = "widget", "Widget (public key)"
    SERVER = "server", "Shop backend (signed)"


class CartEvent(models.Model):
    # No single-column indexes: event_unique_per_site leads with the site and
    # event_cart_timeline with the cart, and each index is one more write per event
    # (docs/adr/0021). No database constraint on the site either: the event's site is its
    # cart's, whose own foreign key holds it, and a second check per event row at COMMIT
    # guarded nothing the cart's did not (docs/adr/0028). Deleting a site still deletes
    # its events (the ORM's cascade, through the carts as well).
    site = models.ForeignKey(
        "cartassist.Site",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    cart = models.ForeignKey(
        "cartassist.Cart", on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event_id = models.CharField(max_length=64, help_text="Client-generated id (idempotency key).")
    type = models.CharField(max_length=32, choices=EventType.choices)
    source = models.CharField(max_length=8, choices=EventSource.choices)
    visitor_id = models.CharField(max_length=64)
    customer_id = models.CharField(max_length=64, blank=True, default="")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    applied = models.BooleanField(
        default=True, help_text="False when the event was older than the cart state."
    )
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "event_id"], name="event_unique_per_site")
        ]
        indexes = [models.Index(fields=["cart", "occurred_at"], name="event_cart_timeline")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
