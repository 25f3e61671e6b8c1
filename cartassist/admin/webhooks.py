"""Admin for webhooks (docs/WEBHOOKS.md): the endpoints merchandisers configure, and the
delivery log (read-only, with a "Retry now" action). Imported by cartassist/admin/carts.py."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from cartassist.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from cartassist.webhooks.services import webhooks_retry_now


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500, assume_scheme="https", help_text="HTTPS URL on the shop backend."
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events sent to this URL.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["site", "url", "events", "active", "description"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if urlsplit(url).scheme not in {"http", "https"}:
            raise forms.ValidationError("Use an https:// (or http://) URL.")
        return url

    def clean_events(self) -> list[str]:
        chosen = set(self.cleaned_data["events"])
        # In the order of WebhookEvent, whatever order the boxes were ticked in.
        return [event.value for event in WebhookEvent if event.value in chosen]


def _deliveries_url(**filters: Any) -> str:
    return reverse("admin:cartassist_webhookdelivery_changelist") + "?" + urlencode(filters)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "site", "event_list", "active", "deliveries"]
    list_filter = ["site", "active"]
    list_select_related = ["site"]
    search_fields = ["url", "description"]
    readonly_fields = ["created_at", "deliveries"]

    @admin.display(description="events")
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events or [])

    @admin.display(description="delivery log")
    def deliveries(self, obj: WebhookEndpoint) -> str:
        if obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}">Deliveries to this endpoint</a>',
            _deliveries_url(endpoint__id__exact=obj.pk),
        )


DELIVERY_FIELDS = (
    "delivery_id",
    "event",
    "site",
    "endpoint",
    "status",
    "attempts",
    "created_at",
    "last_attempt_at",
    "next_attempt_at",
    "delivered_at",
    "response_status",
    "last_error",
    "dedupe_key",
    "payload_json",
)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: what was sent where, each attempt's outcome, and what is next."""

    list_display = [
        "created_at",
        "event",
        "endpoint",
        "status",
        "attempts",
        "response_status",
        "next_attempt_at",
    ]
    list_filter = ["status", "event", "site", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["delivery_id", "dedupe_key"]
    date_hierarchy = "created_at"
    actions = ["retry_now"]
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS

    @admin.display(description="payload")
    def payload_json(self, obj: WebhookDelivery) -> str:
        return format_html(
            '<pre style="white-space: pre-wrap">{}</pre>',
            json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Whoever may change endpoints may send their deliveries again."""
        return request.user.has_perm("cartassist.change_webhookendpoint")

    @admin.action(description="Retry now (failed or retrying deliveries)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = webhooks_retry_now(
            delivery_pks=queryset.values_list("pk", flat=True), now=timezone.now()
        )
        skipped = queryset.count() - count
        note = f"; {skipped} skipped (pending, sending or delivered)" if skipped else ""
        self.message_user(
            request, f"Queued {count} deliver{'y' if count == 1 else 'ies'} again{note}.",
            messages.SUCCESS if count else messages.WARNING,
        )  # fmt: skip
