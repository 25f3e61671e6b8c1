"""The Oscar condition of a grant's offer: it holds only for the grant's own basket.

A custom condition is Oscar's extension point for "who may use this offer"
(``oscar.apps.offer.custom.create_condition``); Oscar loads it by its ``proxy_class`` path.
"""

from __future__ import annotations

from typing import Any

from oscar.core.loading import get_model

Condition = get_model("offer", "Condition")


class GrantBasketCondition(Condition):  # type: ignore[misc,valid-type]
    """Satisfied only by the basket the CartAssist grant was applied to."""

    name = "Only the basket the CartAssist grant was given for"
    description = name

    class Meta:
        app_label = "cartassist_oscar"
        proxy = True
        verbose_name = "CartAssist grant: its basket only"

    def is_satisfied(self, offer: Any, basket: Any) -> bool:
        # Looked up by label: models.py imports this module to register the proxy.
        grant_voucher = get_model("cartassist_oscar", "GrantVoucher")
        if not getattr(basket, "id", None):
            return False
        # Single use and expiry are the voucher's and the offer's own rules (vouchers.py).
        return grant_voucher.objects.filter(voucher__offers=offer, basket_id=basket.id).exists()

    def is_partially_satisfied(self, offer: Any, basket: Any) -> bool:
        return False
