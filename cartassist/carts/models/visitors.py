"""Per-visitor facts that outlive a cart: opt-out and the last invitation."""

from __future__ import annotations

from django.db import models


class Visitor(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=64)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    last_invited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "external_id"], name="visitor_unique_per_site")
        ]

    def __str__(self) -> str:
        return self.external_id
