"""Admin for the live-chat app: agents, invitation copy and saved replies (edited by
merchandisers), invitations and conversations (read-only records).

It also extends the carts app's Intervention admin with the invitation outcome: the
Intervention model lives in ``cartassist`` but its invitation in ``agents``, and
``cartassist`` must not import ``agents``. So this module, loaded after
``cartassist.admin`` (INSTALLED_APPS order), swaps the registered InterventionAdmin for
a subclass that adds one column, one filter and one read-only field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from agents.models import (
    AgentProfile,
    Conversation,
    Invitation,
    InvitationCopy,
    Message,
    SavedReply,
)
from agents.services.presence import effective_status
from cartassist.admin.carts import InterventionAdmin, ReadOnlyAdmin
from cartassist.admin.site_form import https_urls
from cartassist.carts.models import Intervention, Site, StallReason


class AgentProfileForm(forms.ModelForm):
    class Meta:
        model = AgentProfile
        fields = ["user", "site", "display_name", "photo_url", "capacity", "is_supervisor"]
        formfield_callback = https_urls
        labels = {"photo_url": "Photo URL"}

    def clean_photo_url(self) -> str:
        """Photos load inside shops' https pages, where a browser blocks an http image."""
        url: str = self.cleaned_data.get("photo_url") or ""
        if url and urlsplit(url).scheme != "https":
            raise ValidationError("Use an https address (an http image is blocked on https pages).")
        return url


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    # Pictures load in shops' https pages: a typed address without a scheme is https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    form = AgentProfileForm
    list_display = [
        "display_name",
        "user",
        "site",
        "status",
        "presence",
        "capacity",
        "is_supervisor",
        "last_heartbeat_at",
    ]
    list_filter = ["site", "status", "is_supervisor"]
    list_select_related = ["site", "user"]
    search_fields = ["display_name", "user__username", "user__email"]
    autocomplete_fields = ["user"]
    readonly_fields = ["status", "last_heartbeat_at", "photo_preview"]
    fields = [
        "user",
        "site",
        "display_name",
        "photo_url",
        "photo_preview",
        "capacity",
        "is_supervisor",
        "status",
        "last_heartbeat_at",
    ]

    class Media:
        css = {"all": ["siteadmin/admin.css"]}

    @admin.display(description="Photo as shoppers see it")
    def photo_preview(self, obj: AgentProfile | None) -> str:
        if obj is None or not obj.photo_url:
            return "—"
        return format_html(
            '<img class="agent-photo-preview" src="{}" alt="{}" width="48" height="48">',
            obj.photo_url,
            f"Photo of {obj.display_name}",
        )

    @admin.display(description="Now")
    def presence(self, obj: AgentProfile) -> str:
        """What routing sees: "online" without a recent heartbeat is offline."""
        return effective_status(obj, timezone.now())


class InvitationCopyForm(forms.ModelForm):
    """The copy's language must be one the site speaks (Site.languages): copy in any
    other language would never be shown."""

    class Meta:
        model = InvitationCopy
        fields = ["site", "stall_reason", "language", "headline", "body"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        site, language = cleaned.get("site"), cleaned.get("language")
        if site is not None and language and language not in (site.languages or ["en"]):
            names = dict(settings.LANGUAGES)
            spoken = ", ".join(str(names.get(code, code)) for code in site.languages or ["en"])
            self.add_error(
                "language",
                f"{site} does not speak {names.get(language, language)}: its languages are "
                f"{spoken}. Add the language to the site first (Sites › Languages).",
            )
        return cleaned


def copy_missing(sites: QuerySet[Site]) -> list[str]:
    """Per site and language it speaks, the stall reasons without copy of their own, as
    lines for the merchandiser: "Demo Storefront, Deutsch: Shipping shock, Idle at a step"."""
    names = dict(settings.LANGUAGES)
    have = set(
        InvitationCopy.objects.filter(site__in=sites).values_list(
            "site_id", "language", "stall_reason"
        )
    )
    lines = []
    for site in sites:
        for language in site.languages or ["en"]:
            missing = [
                str(label)
                for reason, label in StallReason.choices
                if (site.pk, language, reason) not in have
            ]
            if missing:
                lines.append(f"{site}, {names.get(language, language)}: {', '.join(missing)}")
    return lines


@admin.register(InvitationCopy)
class InvitationCopyAdmin(admin.ModelAdmin):
    form = InvitationCopyForm
    list_display = ["headline", "language", "stall_reason", "site"]
    list_filter = ["site", "language", "stall_reason"]
    list_select_related = ["site"]
    ordering = ["site", "stall_reason", "language"]
    search_fields = ["headline", "body"]
    fieldsets = [
        (
            None,
            {
                "fields": ["site", "stall_reason", "language", "headline", "body"],
                "description": "Name the issue the shopper is stuck on, in the shopper's "
                "language: write one copy per stall reason for each of the site's "
                "languages. The invitation also shows the agent's name and a verification "
                "code. In the body, {agent} is replaced by the agent's display name.",
            },
        )
    ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        """Above the list: which of the sites' languages still lack copy for a reason
        (the invitation then uses the built-in wording)."""
        missing = copy_missing(Site.objects.order_by("name"))
        extra_context = {**(extra_context or {}), "copy_missing": missing}
        return super().changelist_view(request, extra_context)


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "stall_reason", "site"]
    list_filter = ["site", "stall_reason"]
    list_select_related = ["site"]
    search_fields = ["title", "text"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = [
        "verification_code",
        "sent_at",
        "site",
        "stall_reason",
        "status",
        "agent",
        "visitor_id",
        "responded_at",
    ]
    list_filter = ["status", "site", "stall_reason"]
    list_select_related = ["site", "agent"]
    search_fields = ["verification_code", "visitor_id", "cart__external_id"]
    date_hierarchy = "sent_at"


MESSAGE_INLINE_FIELDS = ("seq", "sender", "agent", "text", "created_at")


class MessageInline(admin.TabularInline):
    model = Message
    fields = MESSAGE_INLINE_FIELDS
    readonly_fields = MESSAGE_INLINE_FIELDS
    ordering = ["seq"]
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("agent")

    # Messages belong to the conversation: whoever may view the conversation may read
    # them; nobody adds, edits or deletes them here.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("agents.view_conversation")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "site",
        "status",
        "agent",
        "urgency",
        "cart_value",
        "last_seq",
        "disposition",
        "close_reason",
    ]
    list_filter = ["status", "site", "disposition", "close_reason"]
    list_select_related = ["site", "agent"]
    search_fields = ["visitor_id", "cart__external_id", "invitation__verification_code"]
    date_hierarchy = "created_at"
    inlines = [MessageInline]


# --- the carts app's Intervention admin, with the invitation outcome -------------------

admin.site.unregister(Intervention)


@admin.register(Intervention)
class InterventionWithInvitationAdmin(InterventionAdmin):
    list_display = [*InterventionAdmin.list_display, "invitation_status"]
    list_filter = [*InterventionAdmin.list_filter, "invitation__status"]
    list_select_related = [*InterventionAdmin.list_select_related, "invitation"]
    readonly_fields = ["invitation_status"]

    @admin.display(description="Invitation", ordering="invitation__status")
    def invitation_status(self, obj: Intervention) -> str:
        invitation = getattr(obj, "invitation", None)  # reverse one-to-one: may be absent
        return invitation.get_status_display() if invitation else "—"
