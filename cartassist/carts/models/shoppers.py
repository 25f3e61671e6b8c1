"""Which shopper each visitor id and customer id belongs to (ADR 0008).

A shopper is every cart linked, transitively, by a visitor id or a customer id. Each
identity row names its shopper by a number: the smallest cart id of the shopper's carts.
Rows are written only by ``services/shoppers.py::shoppers_link`` (at ingestion, under
the site's shopper lock), never split, and merged when an event links two shoppers; a
brand-new cart whose only identity is a new visitor id stores that row in the statement
that creates the cart (``new_cart_identity_cte``, ADR 0027).
"""

from __future__ import annotations

from django.db import models


class IdentityKind(models.TextChoices):
    VISITOR = "visitor", "Visitor id"
    CUSTOMER = "customer", "Customer id"


class ShopperIdentity(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=IdentityKind.choices)
    value = models.CharField(max_length=64, help_text="The visitor id or the customer id.")
    shopper_id = models.BigIntegerField(
        help_text="The shopper: the smallest id of the carts linked to this identity."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "kind", "value"], name="shopper_identity_once_per_site"
            )
        ]
        indexes = [models.Index(fields=["site", "shopper_id"], name="shopper_identity_shopper")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value} → shopper {self.shopper_id}"
