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

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

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
from cartassist.carts.models import Intervention


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
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
    readonly_fields = ["status", "last_heartbeat_at"]
    fields = [
        "user",
        "site",
        "display_name",
        "capacity",
        "is_supervisor",
        "status",
        "last_heartbeat_at",
    ]

    @admin.display(description="Now")
    def presence(self, obj: AgentProfile) -> str:
        """What routing sees: "online" without a recent heartbeat is offline."""
        return effective_status(obj, timezone.now())


@admin.register(InvitationCopy)
class InvitationCopyAdmin(admin.ModelAdmin):
    list_display = ["headline", "stall_reason", "site"]
    list_filter = ["site", "stall_reason"]
    list_select_related = ["site"]
    search_fields = ["headline", "body"]
    fieldsets = [
        (
            None,
            {
                "fields": ["site", "stall_reason", "headline", "body"],
                "description": "Name the issue the shopper is stuck on; the invitation also "
                "shows the agent's name and a verification code. In the body, {agent} is "
                "replaced by the agent's display name.",
            },
        )
    ]


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
