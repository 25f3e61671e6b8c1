"""The record of offers, grants and the audit log: read-only in admin, for everyone.

Services write it (policies/services/offers.py, grants.py); nobody edits it here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from cartassist.admin.carts import MoneyRecordAdmin as BaseMoneyRecordAdmin
from cartassist.admin.carts import money_shown
from policies.models import AuditEntry, Grant, Offer


class MoneyRecordAdmin(BaseMoneyRecordAdmin):
    """Offers, grants and audit entries: the amount (and an offer's totals) with the
    currency's minor units."""

    money_fields: tuple[str, ...] = ("amount",)

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, obj: Any) -> str:
        return money_shown(obj.amount, obj.currency)

    @admin.display(description="total before", ordering="total_before")
    def total_before_shown(self, obj: Any) -> str:
        return money_shown(obj.total_before, obj.currency)

    @admin.display(description="total after", ordering="total_after")
    def total_after_shown(self, obj: Any) -> str:
        return money_shown(obj.total_after, obj.currency)


@admin.register(AuditEntry)
class AuditEntryAdmin(MoneyRecordAdmin):
    list_display = [
        "at",
        "action",
        "actor",
        "site",
        "cart",
        "policy_version",
        "kind",
        "amount_shown",
        "outcome",
    ]
    list_filter = ["action", "site"]
    list_select_related = ["site", "cart", "policy_version__policy"]
    search_fields = ["cart__external_id", "actor", "outcome"]
    date_hierarchy = "at"


@admin.register(Offer)
class OfferAdmin(MoneyRecordAdmin):
    money_fields = ("amount", "total_before", "total_after")
    list_display = [
        "created_at",
        "site",
        "cart",
        "agent",
        "kind",
        "amount_shown",
        "total_before_shown",
        "total_after_shown",
        "status",
        "policy_version",
        "approved_by",
    ]
    list_filter = ["status", "kind", "site"]
    list_select_related = ["site", "cart", "agent", "approved_by", "policy_version__policy"]
    search_fields = ["cart__external_id", "agent__display_name"]
    date_hierarchy = "created_at"


@admin.register(Grant)
class GrantAdmin(MoneyRecordAdmin):
    list_display = [
        "token_id",
        "site",
        "cart",
        "kind",
        "amount_shown",
        "policy_version",
        "issued_at",
        "expires_at",
        "redeemed_at",
        "order_id",
    ]
    list_filter = ["kind", "site"]
    list_select_related = ["site", "cart", "policy_version__policy"]
    search_fields = ["cart__external_id", "token_id", "order_id"]
    date_hierarchy = "issued_at"
