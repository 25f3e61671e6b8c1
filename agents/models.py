"""Agents, invitations, conversations and messages (docs/REALTIME.md)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from cartassist.carts.models import StallReason
from cartassist.core.stamps import stamp_changed

# The stamp of the carts open chats follow (agents/services/cart_updates.py).
OPEN_CHATS_STAMP = "open-chats"


class AgentStatus(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class AgentProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="agents")
    display_name = models.CharField(
        max_length=80, help_text="Shown to shoppers; the widget shows the first name only."
    )
    photo_url = models.URLField(
        max_length=500,
        blank=True,
        default="",
        help_text="https address of a square photo shown beside this agent's messages. "
        "Empty: the site's logo, else the initial.",
    )
    capacity = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Concurrent chats.",
    )
    is_supervisor = models.BooleanField(
        default=False, help_text="Sees every chat of the site and can take any over."
    )
    status = models.CharField(
        max_length=8,
        choices=AgentStatus.choices,
        default=AgentStatus.OFFLINE,
        help_text="Chosen in the console; an agent without a recent heartbeat is offline "
        "whatever this says.",
    )
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def first_name(self) -> str:
        """What shoppers call the agent: the first word of the display name."""
        words = self.display_name.split()
        return words[0] if words else ""


class InvitationCopy(models.Model):
    """What the invitation says, per site, stall reason and language (clarity: name the
    issue, in the shopper's language)."""

    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    stall_reason = models.CharField(max_length=32, choices=StallReason.choices)
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default="en",
        help_text="Shown to shoppers whose language this is (one of the site's languages).",
    )
    headline = models.CharField(max_length=120)
    body = models.CharField(max_length=400, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "stall_reason", "language"], name="copy_once_per_reason_language"
            )
        ]
        verbose_name_plural = "invitation copy"

    def __str__(self) -> str:
        return self.headline


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered (shown)"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"
    EXPIRED = "expired", "Expired (ignored)"


VERIFICATION_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U


def new_verification_code() -> str:
    return "".join(secrets.choice(VERIFICATION_ALPHABET) for _ in range(8))


class Invitation(models.Model):
    intervention = models.OneToOneField(
        "cartassist.Intervention", on_delete=models.CASCADE, related_name="invitation"
    )
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    cart = models.ForeignKey("cartassist.Cart", on_delete=models.CASCADE, related_name="+")
    visitor_id = models.CharField(max_length=64)
    agent = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stall_reason = models.CharField(max_length=32, choices=StallReason.choices)
    headline = models.CharField(max_length=120)
    body = models.CharField(max_length=400, blank=True, default="")
    verification_code = models.CharField(max_length=16, unique=True, default=new_verification_code)
    language = models.CharField(
        max_length=8,
        blank=True,
        default="",
        help_text="The shopper's language when it was sent (one of the site's): the copy "
        "was chosen for it, and the verification page speaks it. Empty: sent before "
        "languages were recorded.",
    )
    status = models.CharField(
        max_length=12, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "visitor_id", "status"], name="invitation_visitor"),
            models.Index(fields=["status", "expires_at"], name="invitation_expiry"),
        ]
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"{self.verification_code} ({self.status})"


class ConversationStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for an agent"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class Disposition(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    CONVERTED = "converted", "Converted"
    NOT_INTERESTED = "not_interested", "Not interested"
    NO_RESPONSE = "no_response", "No response"
    OTHER = "other", "Other"


class CloseReason(models.TextChoices):
    AGENT = "agent", "Closed by the agent"
    VISITOR = "visitor", "Closed by the shopper"
    VISITOR_TIMEOUT = "visitor_timeout", "Shopper left (timed out)"


class Conversation(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    visitor_id = models.CharField(max_length=64)
    cart = models.ForeignKey(
        "cartassist.Cart", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invitation = models.OneToOneField(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversation"
    )
    agent = models.ForeignKey(
        AgentProfile,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    status = models.CharField(
        max_length=8, choices=ConversationStatus.choices, default=ConversationStatus.QUEUED
    )
    urgency = models.PositiveSmallIntegerField(default=0)
    cart_value = models.DecimalField(max_digits=14, decimal_places=3, default=0)
    last_seq = models.PositiveIntegerField(default=0)
    # The last seq published to the channel layer: messages are published in seq order,
    # from the database, by whoever holds the row lock (ADR 0011). Behind last_seq only
    # while a publish is pending or failed; the next publish of the chat catches up.
    published_seq = models.PositiveIntegerField(default=0)
    visitor_read_seq = models.PositiveIntegerField(default=0)
    agent_read_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_agent_message_at = models.DateTimeField(null=True, blank=True)
    visitor_last_seen_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    disposition = models.CharField(max_length=16, choices=Disposition.choices, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "status", "-urgency"], name="conversation_queue"),
            models.Index(fields=["site", "visitor_id", "status"], name="conversation_visitor"),
            models.Index(fields=["agent", "status"], name="conversation_agent_load"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Conversation {self.pk} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A chat that opens about a cart: ingestion's cache of the carts open chats
        # follow must learn of it (docs/adr/0018). A cart is set only at creation.
        opens = self._state.adding or kwargs.get("update_fields") is None
        super().save(*args, **kwargs)
        if opens and self.cart_id is not None and self.status != ConversationStatus.CLOSED:
            stamp_changed(OPEN_CHATS_STAMP)


class Sender(models.TextChoices):
    VISITOR = "visitor", "Shopper"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class MessageKind(models.TextChoices):
    TEXT = "text", "Text"
    # The invitation the chat was opened from, as its first message (seq 1): who sent it,
    # what it said and its verification code, in ``meta`` (docs/REALTIME.md).
    INVITATION = "invitation", "Invitation"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=8, choices=Sender.choices)
    agent = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_message_id = models.CharField(max_length=64)
    text = models.TextField()
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.TEXT)
    meta = models.JSONField(
        default=dict,
        blank=True,
        help_text='What a message of another kind carries besides its text; {} for "text".',
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_message_id"],
                name="message_client_id_unique",
            ),
        ]
        ordering = ["conversation", "seq"]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"


class SavedReply(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    stall_reason = models.CharField(
        max_length=32,
        choices=StallReason.choices,
        blank=True,
        help_text="Offer this reply only for chats about this stall reason (blank: always).",
    )
    title = models.CharField(max_length=80)
    text = models.TextField(max_length=2000)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "saved replies"

    def __str__(self) -> str:
        return self.title


class ShopperEmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class ShopperEmail(models.Model):
    """An email an agent sent a shopper who left a chat: the chat's last message and its
    open offers, recorded on the chat's intervention (docs/REALTIME.md, "Email to a
    shopper who left"). The address is not copied here; it is read when sending."""

    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    intervention = models.ForeignKey(
        "cartassist.Intervention", on_delete=models.CASCADE, related_name="emails"
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="emails")
    agent = models.ForeignKey(AgentProfile, null=True, on_delete=models.SET_NULL, related_name="+")
    visitor_id = models.CharField(max_length=64)
    language = models.CharField(max_length=8, help_text="The shopper's language.")
    link_base = models.CharField(
        max_length=200,
        help_text="CartAssist's address the email's links use (CARTASSIST_PUBLIC_URL, "
        "else the console's address the agent sent it from).",
    )
    status = models.CharField(
        max_length=8, choices=ShopperEmailStatus.choices, default=ShopperEmailStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True, default="")
    message_id = models.CharField(
        max_length=200, blank=True, default="", help_text="The Message-ID header sent."
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "visitor_id", "created_at"], name="shopper_email_cap"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"email {self.pk} ({self.status})"


class ShopperEmailDay(models.Model):
    """How many emails to shoppers a site sent on one local day: consumed with one
    conditional UPDATE against ``Site.email_daily_limit`` (like budgets, ADR 0007)."""

    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "day"], name="shopper_email_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day}: {self.sent}"
