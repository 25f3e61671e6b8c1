"""The record of offers, grants and the audit log: read-only in admin, for everyone.

Services write it (policies/services/offers.py, grants.py); nobody edits it here.
"""

from __future__ import annotations

from django.contrib import admin

from cartassist.admin.carts import ReadOnlyAdmin
from policies.models import AuditEntry, Grant, Offer


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "action",
        "actor",
        "site",
        "cart",
        "policy_version",
        "kind",
        "amount",
        "currency",
        "outcome",
    ]
    list_filter = ["action", "site"]
    list_select_related = ["site", "cart", "policy_version__policy"]
    search_fields = ["cart__external_id", "actor", "outcome"]
    date_hierarchy = "at"


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "site",
        "cart",
        "agent",
        "kind",
        "amount",
        "currency",
        "total_before",
        "total_after",
        "status",
        "policy_version",
        "approved_by",
    ]
    list_filter = ["status", "kind", "site"]
    list_select_related = ["site", "cart", "agent", "approved_by", "policy_version__policy"]
    search_fields = ["cart__external_id", "agent__display_name"]
    date_hierarchy = "created_at"


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = [
        "token_id",
        "site",
        "cart",
        "kind",
        "amount",
        "currency",
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
