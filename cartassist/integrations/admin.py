"""Admin: a site's platform connections (secrets write-only), deliveries, native discounts.

docs/integrations/README.md, "In CartAssist admin".
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from cartassist.integrations.discounts import native_discounts_retry
from cartassist.integrations.models import (
    DiscountStatus,
    NativeDiscount,
    PlatformConnection,
    PlatformDelivery,
)
from cartassist.integrations.services import platform_connection_save

SECRET_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class PlatformConnectionForm(forms.ModelForm):
    """Secrets are typed in and never shown again: empty keeps the stored one."""

    new_webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        widget=SECRET_WIDGET,
        max_length=200,
        help_text="Shopify: the app's client secret (API secret key). WooCommerce: the "
        "webhooks' secret. Leave empty to keep the current one. A new one replaces it; the "
        "old one stays valid for CARTASSIST_SECRET_ROTATION_GRACE_HOURS (24 h by default).",
    )
    new_api_secret = forms.CharField(
        label="API secret",
        required=False,
        widget=SECRET_WIDGET,
        max_length=300,
        help_text="Shopify: the Admin API access token (shpat_…), scope write_discounts. "
        "WooCommerce: the REST API consumer secret (cs_…), Read/Write. Empty keeps it.",
    )

    class Meta:
        model = PlatformConnection
        fields = ["site", "platform", "enabled", "store_url", "storefront_url", "api_version"]
        fields += ["api_key"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.instance.webhook_secret and not data.get("new_webhook_secret"):
            self.add_error("new_webhook_secret", "Enter the webhook secret.")
        return data


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    form = PlatformConnectionForm
    list_display = ["site", "platform", "store_url", "enabled", "secrets", "webhook_url"]
    list_filter = ["platform", "enabled"]
    list_select_related = ["site"]
    readonly_fields = ["secrets", "webhook_url", "refused_discounts"]
    fieldsets = [
        (None, {"fields": ["site", "platform", "enabled", "store_url", "storefront_url"]}),
        ("Webhooks", {"fields": ["webhook_url", "new_webhook_secret", "secrets"]}),
        ("API credentials", {"fields": ["api_version", "api_key", "new_api_secret"]}),
        ("Native discounts", {"fields": ["refused_discounts"]}),
    ]

    @admin.display(description="Secrets")
    def secrets(self, obj: PlatformConnection) -> str:
        if not obj.pk:
            return "—"
        parts = [
            f"webhook secret {'set' if obj.webhook_secret else 'NOT SET'}",
            f"API secret {'set' if obj.api_secret else 'not set'}",
        ]
        expires = obj.previous_webhook_secret_expires_at
        if obj.previous_webhook_secret and expires and expires > timezone.now():
            until = timezone.localtime(expires)
            parts.append(f"previous webhook secret accepted until {until:%Y-%m-%d %H:%M}")
        return "; ".join(parts)

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: PlatformConnection) -> str:
        if not obj.pk:
            return "Shown once saved."
        name = f"{obj.platform}-webhooks"
        return reverse(name, kwargs={"site_key": obj.site.public_key})

    @admin.display(description="Refused or failed discounts")
    def refused_discounts(self, obj: PlatformConnection) -> str:
        if not obj.pk:
            return "—"
        bad = obj.discounts.filter(
            status__in=[DiscountStatus.REFUSED, DiscountStatus.FAILED]
        ).order_by("-updated_at")
        count = bad.count()
        if not count:
            return "None."
        latest = bad.first()
        assert latest is not None
        link = reverse("admin:integrations_nativediscount_changelist")
        return format_html(
            '<strong>{} discount(s) not created.</strong> Latest: {} — {} (<a href="{}?'
            'connection__id__exact={}">see all</a>)',
            count,
            latest.code,
            latest.error,
            link,
            obj.pk,
        )

    def save_model(
        self, request: HttpRequest, obj: PlatformConnection, form: Any, change: bool
    ) -> None:
        platform_connection_save(
            connection=obj,
            webhook_secret=form.cleaned_data.get("new_webhook_secret") or "",
            api_secret=form.cleaned_data.get("new_api_secret") or "",
            now=timezone.now(),
        )


@admin.register(PlatformDelivery)
class PlatformDeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "connection", "topic", "delivery_id", "status"]
    list_filter = ["connection__platform", "status", "topic"]
    list_select_related = ["connection", "connection__site"]
    search_fields = ["delivery_id", "event_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(NativeDiscount)
class NativeDiscountAdmin(admin.ModelAdmin):
    list_display = ["code", "connection", "status_shown", "error", "attempts", "order_id"]
    list_filter = ["status", "connection__platform"]
    list_select_related = ["connection", "connection__site"]
    search_fields = ["code", "grant__token_id", "order_id"]
    actions = ["retry"]

    @admin.display(description="Status", ordering="status")
    def status_shown(self, obj: NativeDiscount) -> str:
        if obj.status in (DiscountStatus.REFUSED, DiscountStatus.FAILED):
            return format_html(
                '<strong style="color:#ba2121">{}</strong>', obj.get_status_display()
            )
        return obj.get_status_display()

    @admin.action(description="Try creating the selected discounts again", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[NativeDiscount]) -> None:
        count = native_discounts_retry(
            discount_ids=list(queryset.values_list("pk", flat=True)), now=timezone.now()
        )
        self.message_user(request, f"{count} discount(s) queued again.", messages.SUCCESS)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Whoever manages the platform connections (their credentials) may try again."""
        return request.user.has_perm("integrations.change_platformconnection")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
