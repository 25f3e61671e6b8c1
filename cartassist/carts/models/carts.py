"""Cart state, folded from the cart's event log (see services/ingest.py)."""

from __future__ import annotations

from django.db import models


class Stage(models.TextChoices):
    """Where the shopper is. Ordered: a later stage is further into checkout."""

    CART = "cart", "Cart"
    CONTACT = "contact", "Checkout: contact"
    SHIPPING = "shipping", "Checkout: shipping"
    PAYMENT = "payment", "Checkout: payment"


class CartStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    STALLED = "stalled", "Stalled (decision recorded)"
    CONVERTED = "converted", "Converted (order completed)"


class StallSignal(models.TextChoices):
    """The most recent event that may explain a stall."""

    NONE = "", "None"
    SHIPPING_QUOTED = "shipping_quoted", "Shipping quoted"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    COUPON_REJECTED = "coupon_rejected", "Coupon rejected"


class Cart(models.Model):
    # No index of its own: cart_unique_per_site leads with the site (docs/adr/0021).
    site = models.ForeignKey(
        "cartassist.Site", on_delete=models.CASCADE, related_name="carts", db_index=False
    )
    external_id = models.CharField(max_length=64, help_text="The storefront's cart id.")
    visitor_id = models.CharField(max_length=64)
    customer_id = models.CharField(max_length=64, blank=True, default="")
    customer_verified = models.BooleanField(
        default=False, help_text="customer_id came signed (identity HMAC or server event)."
    )
    customer_name = models.CharField(
        max_length=120,
        blank=True,
        default="",
        help_text="The shopper's name as the shop gave it in a signed server event; shown "
        "to agents only.",
    )
    customer_email_hint = models.CharField(
        max_length=120,
        blank=True,
        default="",
        help_text="A masked email (m•••@example.com) from a signed server event, so the "
        "agent can tell shoppers apart; the address itself is kept only as a keyed hash "
        "(ADR 0016).",
    )
    currency = models.CharField(max_length=3)
    lines = models.JSONField(default=list, blank=True)
    subtotal = models.DecimalField(max_digits=14, decimal_places=3, default=0)
    shipping_fee = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    shipping_method = models.CharField(max_length=64, blank=True, default="")
    shipping_country = models.CharField(
        max_length=2, blank=True, default="", help_text="ISO 3166-1 alpha-2, from shipping_quoted."
    )
    customer_segment = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="A segment attribute from a signed server event (e.g. vip).",
    )
    totals_trusted = models.BooleanField(
        default=False,
        help_text="Totals were last set by a server-signed event; widget totals no longer apply.",
    )
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.CART)
    status = models.CharField(max_length=16, choices=CartStatus.choices, default=CartStatus.ACTIVE)
    signal = models.CharField(
        max_length=32, choices=StallSignal.choices, default=StallSignal.NONE, blank=True
    )
    signal_detail = models.CharField(max_length=200, blank=True, default="")
    order_id = models.CharField(max_length=64, blank=True, default="")
    order_total = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    converted_at = models.DateTimeField(
        null=True, blank=True, help_text="occurred_at of the order_completed event that stands."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state_at = models.DateTimeField(
        help_text="occurred_at of the newest event applied to this state; older events are "
        "logged but do not roll the state back."
    )
    last_activity_at = models.DateTimeField()
    stall_deadline = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last activity + the stall rule's threshold for the stage. Cleared once the "
        "sweep has recorded a decision, or when no rule applies.",
    )
    pacing_due_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While an invitation waits for the helpdesk's capacity (pacing): the stall "
        "deadline it was first due at. Belongs to the current stall only while it is later "
        "than last_activity_at.",
    )
    identities_linked = models.BooleanField(
        default=False,
        help_text="Ingestion has linked this cart's visitor_id and customer_id to its "
        "shopper (ShopperIdentity); events that bring no other id need no linking.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "external_id"], name="cart_unique_per_site")
        ]
        indexes = [
            # The sweep's only access path: carts with a pending deadline, oldest first.
            # Partial, so the index holds the carts awaiting a decision, not all carts.
            models.Index(
                fields=["stall_deadline"],
                name="cart_pending_stall_deadline",
                condition=models.Q(stall_deadline__isnull=False),
            ),
            models.Index(fields=["site", "visitor_id"], name="cart_site_visitor"),
            models.Index(
                fields=["site", "customer_id"],
                name="cart_site_customer",
                condition=~models.Q(customer_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.site_id})"
