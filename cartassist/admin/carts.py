"""Admin for merchandisers: sites, stall rules, and the (read-only) record of decisions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from agents.models import ShopperEmail
from cartassist.admin.a11y import LabelledInlineFormSet
from cartassist.admin.helpdesk import HelpdeskCapacityInline
from cartassist.admin.site_form import SiteAdminForm, brand_preview
from cartassist.carts.models import Cart, CartEvent, FollowUpContact, Intervention, Site, StallRule
from cartassist.carts.services.site_config import sites_changed
from cartassist.carts.services.sites import site_secret_rotate
from cartassist.outcomes.services.outcomes import outcomes_refresh_for_interventions
from policies.engine.diff import format_money

# The admin index links to the analytics page (cartassist/analytics, docs/ANALYTICS.md).
admin.site.index_template = "cartassist/admin_index.html"


class StallRuleInline(admin.TabularInline):
    model = StallRule
    formset = LabelledInlineFormSet
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    # Pictures load in shops' https pages: a typed address without a scheme is https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "name",
        "public_key",
        "currency",
        "timezone",
        "agents_available",
        "holdout_share",
    ]
    search_fields = ["name", "public_key"]
    form = SiteAdminForm
    readonly_fields = [
        "public_key",
        "secret",
        "previous_secret_expires_at",
        "created_at",
        "brand_preview",
    ]
    exclude = ["previous_secret"]
    inlines = [StallRuleInline, HelpdeskCapacityInline]
    actions = ["rotate_secret"]
    fieldsets = [
        (None, {"fields": ["name", "currency", "timezone", "allowed_origins"]}),
        (
            "Branding",
            {
                "fields": ["display_name", "brand_colour", "brand_preview", "logo_url"],
                "description": "What shoppers see in the widget and on the verification page "
                "(docs/WIDGET.md, “Branding”). The launcher, buttons and the "
                "shopper's messages take the brand colour with white or black text, "
                "whichever contrasts more; a colour on which neither reaches WCAG AA "
                "(4.5:1) is refused.",
            },
        ),
        (
            "Languages",
            {
                "fields": ["languages", "fallback_language"],
                "description": "Write the invitation copy for each of these languages under "
                "Agents › Invitation copy.",
            },
        ),
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
        (
            "Email to shoppers",
            {
                "fields": [
                    "email_sender_address",
                    "email_sender_verified",
                    "email_daily_limit",
                    "resume_page_url",
                ],
                "description": "An agent may email a shopper who left a chat, from this "
                "address (docs/OPERATIONS.md, “Email to shoppers”). Publish SPF, DKIM and "
                "DMARC for its domain, send a test with "
                "<code>manage.py cartassist_email_test</code>, then tick “verified”.",
            },
        ),
        (
            "Outcomes",
            {
                "fields": ["attribution_window_hours", "follow_up_window_days"],
                "description": "How long after an intervention an order is credited to it, and "
                "a contact from the shopper counts as a follow-up (docs/ANALYTICS.md).",
            },
        ),
        (None, {"fields": ["created_at"]}),
    ]

    @admin.display(description="Preview")
    def brand_preview(self, site: Site | None) -> str:
        return brand_preview(site.brand_colour if site else "")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        # A bulk delete calls no Site.delete(): ingestion's cached sites must still go.
        super().delete_queryset(request, queryset)
        sites_changed()

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

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[StallRule]) -> None:
        super().delete_queryset(request, queryset)  # no StallRule.delete() per row
        sites_changed()


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MoneyRecordAdmin(ReadOnlyAdmin):
    """A read-only record whose ``money_fields`` show with their currency's minor units
    ("9.90 EUR", "990 JPY") instead of the storage's three decimals: in the list (name
    the ``<field>_shown`` methods in ``list_display``) and on the record page."""

    money_fields: tuple[str, ...] = ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [f for f in super().get_fields(request, obj) if f != "currency"]
        return [f"{f}_shown" if f in self.money_fields else f for f in fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        shown = [f"{f}_shown" for f in self.money_fields]
        return [*super().get_readonly_fields(request, obj), *shown]


def money_shown(amount: Decimal | None, currency: str) -> str:
    """A stored amount for a read-only column: "9.90 EUR", "990 JPY", "—" when empty."""
    return format_money(amount, currency, empty="—")


@admin.register(Cart)
class CartAdmin(MoneyRecordAdmin):
    money_fields = ("subtotal", "shipping_fee")
    list_display = [
        "external_id",
        "site",
        "stage",
        "status",
        "subtotal_shown",
        "shipping_fee_shown",
        "last_activity_at",
        "stall_deadline",
    ]
    list_filter = ["site", "status", "stage"]
    list_select_related = ["site"]
    search_fields = ["external_id", "visitor_id", "customer_id"]
    date_hierarchy = "last_activity_at"

    @admin.display(description="subtotal", ordering="subtotal")
    def subtotal_shown(self, cart: Cart) -> str:
        return money_shown(cart.subtotal, cart.currency)

    @admin.display(description="shipping fee", ordering="shipping_fee")
    def shipping_fee_shown(self, cart: Cart) -> str:
        return money_shown(cart.shipping_fee, cart.currency)


@admin.register(CartEvent)
class CartEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "source", "cart", "occurred_at", "received_at", "applied"]
    list_filter = ["type", "source", "applied"]
    list_select_related = ["cart"]
    search_fields = ["event_id", "cart__external_id", "visitor_id"]


FOLLOW_UP_INLINE_FIELDS = ("occurred_at", "source", "channel", "reason", "resolution", "note")


class FollowUpInline(admin.TabularInline):
    model = FollowUpContact
    fields = FOLLOW_UP_INLINE_FIELDS
    readonly_fields = FOLLOW_UP_INLINE_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


SHOPPER_EMAIL_INLINE_FIELDS = (
    "created_at",
    "conversation",
    "agent",
    "language",
    "status",
    "attempts",
    "sent_at",
    "last_error",
)


class ShopperEmailInline(admin.TabularInline):
    """The emails sent to the shopper after they left the chat (docs/OPERATIONS.md,
    "Email to shoppers"); read-only, like the intervention."""

    model = ShopperEmail
    fields = SHOPPER_EMAIL_INLINE_FIELDS
    readonly_fields = SHOPPER_EMAIL_INLINE_FIELDS
    extra = 0
    can_delete = False
    verbose_name = "email to the shopper"
    verbose_name_plural = "emails to the shopper"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
        "cart_value",
        "currency",
        "converted",
        "revenue",
        "remedy_cost",
        "follow_ups",
    ]
    list_filter = [
        "site",
        "decision",
        "arm",
        "returning_shopper",
        "suppression_reason",
        "stall_reason",
        "stage",
        "invitation_result",
        "converted",
        "attribution",
        "offer_accepted",
        "outcome_final",
    ]
    list_select_related = ["cart", "site"]
    search_fields = ["cart__external_id", "visitor_id", "order_id"]
    date_hierarchy = "decided_at"
    inlines = [FollowUpInline, ShopperEmailInline]
    actions = ["recompute_outcomes"]
    fieldsets = [
        (
            "Decision",
            {
                "fields": [
                    "site",
                    "cart",
                    "visitor_id",
                    "trigger",
                    "decided_at",
                    "decision",
                    "arm",
                    "returning_shopper",
                    "suppression_reason",
                    "stall_reason",
                    "stage",
                    "urgency",
                    "inactivity",
                    "cart_value",
                    "currency",
                ]
            },
        ),
        (
            "Invitation and chat",
            {
                "fields": [
                    "invitation_result",
                    "agent",
                    "first_response_seconds",
                    "chat_duration_seconds",
                    "visitor_messages",
                    "agent_messages",
                ]
            },
        ),
        (
            "Offers",
            {
                "fields": [
                    "offers_made",
                    "offer_accepted",
                    "remedy_kind",
                    "policy",
                    "policy_version",
                    "granted_amount",
                    "remedy_cost",
                ]
            },
        ),
        (
            "Conversion",
            {
                "fields": [
                    "converted",
                    "converted_at",
                    "order_id",
                    "attribution",
                    "revenue",
                    "net_revenue",
                    "follow_ups",
                    "outcome_final",
                    "outcome_updated_at",
                ],
                "description": "Derived from orders, grants and follow-up contacts; recomputed "
                "as they arrive and once more when the attribution window closes.",
            },
        ),
    ]

    def has_recompute_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("cartassist.view_intervention")

    @admin.action(description="Recompute the outcome of the selected", permissions=["recompute"])
    def recompute_outcomes(self, request: HttpRequest, queryset: QuerySet[Intervention]) -> None:
        changed = outcomes_refresh_for_interventions(
            intervention_ids=list(queryset.values_list("pk", flat=True)), now=timezone.now()
        )
        self.message_user(request, f"Recomputed; {changed} outcome(s) changed.", messages.SUCCESS)


@admin.register(FollowUpContact)
class FollowUpContactAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "site",
        "source",
        "channel",
        "reason",
        "visitor_id",
        "customer_id",
        "intervention",
        "resolution",
    ]
    list_filter = ["site", "source", "channel", "reason", "resolution"]
    list_select_related = ["site", "intervention"]
    search_fields = ["key", "visitor_id", "customer_id"]
    date_hierarchy = "occurred_at"
