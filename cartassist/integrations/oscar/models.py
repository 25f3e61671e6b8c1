"""What the integration remembers in the shop's database.

Oscar's own models hold the baskets, vouchers, offers and orders; these two tables only
link them to CartAssist's ids.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class TrackedBasket(models.Model):
    """An Oscar basket CartAssist has heard of: who is shopping, and what was last sent
    (so an event goes out only when something changed)."""

    basket_id = models.PositiveIntegerField(unique=True)
    visitor_id = models.CharField(max_length=64)
    customer_id = models.CharField(max_length=64, blank=True, default="")
    #: A digest of the lines, prices and vouchers last reported by ``cart_updated``.
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    #: The checkout step last reported (contact, shipping, payment).
    step = models.CharField(max_length=16, blank=True, default="")
    #: ``method|fee|currency|country`` last reported by ``shipping_quoted``.
    quote = models.CharField(max_length=128, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    # Explicit: this app lives in the shop's project, not in CartAssist's settings.
    objects: ClassVar[models.Manager[TrackedBasket]] = models.Manager()

    class Meta:
        verbose_name = "basket tracked by CartAssist"

    def __str__(self) -> str:
        return f"basket {self.basket_id} (visitor {self.visitor_id})"


class GrantVoucher(models.Model):
    """A CartAssist grant turned into an Oscar voucher for one basket.

    Keyed by the grant's id: the widget may hand the page a fresh token for the same grant
    on each page, so tokens are not stable, ids are. The token is kept to redeem it.
    """

    grant_id = models.CharField(max_length=64, unique=True)
    token = models.TextField()
    kind = models.CharField(max_length=32)
    amount = models.DecimalField(max_digits=12, decimal_places=3)
    currency = models.CharField(max_length=3)
    cart_id = models.CharField(max_length=64)
    basket_id = models.PositiveIntegerField(db_index=True)
    voucher = models.OneToOneField(
        "voucher.Voucher", on_delete=models.CASCADE, related_name="cartassist_grant"
    )
    voucher_id: int  # declared for type checkers: Oscar is not in CartAssist's settings
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    #: Oscar's order number (a string) once the order is placed.
    order_number = models.CharField(max_length=128, blank=True, default="")
    redeemed_at = models.DateTimeField(null=True, blank=True)
    #: Why the last redemption attempt failed (empty when it did not).
    redeem_error = models.CharField(max_length=255, blank=True, default="")

    objects: ClassVar[models.Manager[GrantVoucher]] = models.Manager()

    class Meta:
        verbose_name = "CartAssist grant voucher"

    def __str__(self) -> str:
        return f"grant {self.grant_id}: {self.kind} {self.amount} {self.currency}"


# The grant offers' condition is a proxy of Oscar's Condition model: importing it here
# registers it with this app, so that migrations know it.
from .conditions import GrantBasketCondition  # noqa: E402, F401
