"""The integration's two tables in the shop's Django admin, read-only: they mirror what
Oscar and CartAssist hold."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import GrantVoucher, TrackedBasket


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(TrackedBasket)
class TrackedBasketAdmin(ReadOnlyAdmin):
    list_display = ("basket_id", "visitor_id", "customer_id", "step", "updated_at")
    search_fields = ("=basket_id", "visitor_id", "customer_id")


@admin.register(GrantVoucher)
class GrantVoucherAdmin(ReadOnlyAdmin):
    list_display = (
        "grant_id",
        "kind",
        "amount",
        "currency",
        "basket_id",
        "order_number",
        "redeemed_at",
        "redeem_error",
    )
    list_filter = ("kind", "redeemed_at")
    search_fields = ("=grant_id", "=order_number", "cart_id")
    exclude = ("token",)
