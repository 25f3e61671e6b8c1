"""Admin for merchandisers: sites, stall rules, and the (read-only) record of decisions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from cartassist.models import Cart, CartEvent, Intervention, Site, StallRule
from cartassist.services.sites import site_secret_rotate

# The admin index links to the analytics page (cartassist/analytics, docs/ANALYTICS.md).
admin.site.index_template = "cartassist/admin_index.html"


class StallRuleInline(admin.TabularInline):
    model = StallRule
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "public_key",
        "currency",
        "timezone",
        "agents_available",
        "holdout_share",
    ]
    search_fields = ["name", "public_key"]
    readonly_fields = ["public_key", "secret", "previous_secret_expires_at", "created_at"]
    exclude = ["previous_secret"]
    inlines = [StallRuleInline]
    actions = ["rotate_secret"]
    fieldsets = [
        (None, {"fields": ["name", "currency", "timezone", "allowed_origins"]}),
        (
            "Keys",
            {
                "fields": ["public_key", "secret", "previous_secret_expires_at"],
                "description": "Rotate the secret with the action on the site list; the old "
                "secret stays valid for CARTASSIST_SECRET_ROTATION_GRACE_HOURS.",
            },
        ),
        (
            "Outreach",
            {
                "fields": [
                    "agents_available",
                    "frequency_cap_hours",
                    "quiet_hours_start",
                    "quiet_hours_end",
                    "holdout_share",
                    "shipping_shock_ratio",
                ]
            },
        ),
        (None, {"fields": ["created_at"]}),
    ]

    # Only for those who may change sites: view-only staff must not cut shops off.
    @admin.action(description="Rotate the secret of the selected sites", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        for site in queryset:
            site_secret_rotate(site=site)
        self.message_user(
            request,
            f"Rotated {queryset.count()} secret(s); the previous secrets stay valid for the "
            "grace period.",
            messages.SUCCESS,
        )


@admin.register(StallRule)
class StallRuleAdmin(admin.ModelAdmin):
    list_display = ["site", "stage", "inactivity_threshold", "minimum_cart_value", "enabled"]
    list_filter = ["site", "stage", "enabled"]
    list_select_related = ["site"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Cart)
class CartAdmin(ReadOnlyAdmin):
    list_display = [
        "external_id",
        "site",
        "stage",
        "status",
        "subtotal",
        "currency",
        "shipping_fee",
        "last_activity_at",
        "stall_deadline",
    ]
    list_filter = ["site", "status", "stage"]
    list_select_related = ["site"]
    search_fields = ["external_id", "visitor_id", "customer_id"]
    date_hierarchy = "last_activity_at"


@admin.register(CartEvent)
class CartEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "source", "cart", "occurred_at", "received_at", "applied"]
    list_filter = ["type", "source", "applied"]
    list_select_related = ["cart"]
    search_fields = ["event_id", "cart__external_id", "visitor_id"]


@admin.register(Intervention)
class InterventionAdmin(ReadOnlyAdmin):
    list_display = [
        "decided_at",
        "cart",
        "site",
        "decision",
        "suppression_reason",
        "stall_reason",
        "stage",
        "urgency",
        "inactivity",
        "cart_value",
        "currency",
    ]
    list_filter = ["site", "decision", "suppression_reason", "stall_reason", "stage"]
    list_select_related = ["cart", "site"]
    search_fields = ["cart__external_id", "visitor_id"]
    date_hierarchy = "decided_at"


from cartassist import admin_webhooks  # noqa: E402, F401 - registers the webhook admins
