"""Per-visitor facts that outlive a cart: opt-out, the last invitation, the language."""

from __future__ import annotations

from django.db import models


class Visitor(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=64)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    last_invited_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(
        max_length=8,
        blank=True,
        default="",
        help_text="The shopper's language as the widget last reported it, resolved to one "
        "of the site's languages (docs/LOCALISATION.md). Empty: not known yet.",
    )

    open_sockets = models.PositiveIntegerField(
        default=0,
        help_text="Widget sockets of this visitor open now, counted on connect and "
        "disconnect: 0 means the shopper left (agents/services/presence.py).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "external_id"], name="visitor_unique_per_site")
        ]

    def __str__(self) -> str:
        return self.external_id
