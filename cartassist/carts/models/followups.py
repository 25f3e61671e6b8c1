"""Contacts from a shopper after outreach: the metric the research says hurts most."""

from __future__ import annotations

from django.db import models

from .outreach import FollowUpResolution


class FollowUpSource(models.TextChoices):
    HELPDESK = "helpdesk", "Reported by the shop's helpdesk"
    CHAT = "chat", "Shopper started a chat"


class FollowUpChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"
    SOCIAL = "social", "Social media"
    OTHER = "other", "Other"


class FollowUpReason(models.TextChoices):
    NEEDED_CONFIRMATION = "needed_confirmation", "Needed confirmation"
    CHECKING_GENUINE = "checking_genuine", "Checking the outreach was genuine"
    UNRESOLVED = "unresolved", "Issue not resolved"
    OTHER = "other", "Other"


class FollowUpContact(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(
        max_length=80,
        help_text="Idempotency key: the helpdesk's contact id, or chat:<conversation id>.",
    )
    source = models.CharField(max_length=10, choices=FollowUpSource.choices)
    channel = models.CharField(max_length=10, choices=FollowUpChannel.choices)
    reason = models.CharField(max_length=24, choices=FollowUpReason.choices)
    visitor_id = models.CharField(max_length=64, blank=True, default="")
    customer_id = models.CharField(max_length=64, blank=True, default="")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True, default="")
    intervention = models.ForeignKey(
        "cartassist.Intervention",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_up_contacts",
        help_text="The most recent outreach (or holdout decision) before the contact, within "
        "the site's follow-up window; empty when there was none.",
    )
    resolution = models.CharField(
        max_length=12,
        choices=FollowUpResolution.choices,
        blank=True,
        default="",
        help_text="How the contact ended, as the helpdesk reported it (outreach lookup); "
        "empty when not reported.",
    )
    resolution_reported_at = models.DateTimeField(null=True, blank=True)
    conversation = models.OneToOneField(
        "agents.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_up",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "key"], name="follow_up_once_per_key")
        ]
        indexes = [models.Index(fields=["site", "occurred_at"], name="follow_up_site_time")]
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} via {self.get_channel_display()}"
