"""When a cart at a given stage counts as stalled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.validators import MinValueValidator
from django.db import models

from cartassist.core.stamps import stamp_changed

from .carts import Stage
from .sites import SITES_STAMP


class StallRule(models.Model):
    site = models.ForeignKey(
        "cartassist.Site", on_delete=models.CASCADE, related_name="stall_rules"
    )
    stage = models.CharField(max_length=16, choices=Stage.choices)
    inactivity_threshold = models.DurationField(
        validators=[MinValueValidator(timedelta(seconds=1))],
        help_text="Inactivity after which a cart at this stage is stalled (HH:MM:SS).",
    )
    minimum_cart_value = models.DecimalField(
        max_digits=14,
        decimal_places=3,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Carts below this subtotal (site currency) are never treated as stalled.",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "stage"], name="stall_rule_unique_stage")
        ]
        ordering = ["site", "stage"]

    def __str__(self) -> str:
        return f"{self.site}: {self.get_stage_display()} after {self.inactivity_threshold}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        stamp_changed(SITES_STAMP)  # ingestion caches each site's rules

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        stamp_changed(SITES_STAMP)
        return super().delete(*args, **kwargs)
