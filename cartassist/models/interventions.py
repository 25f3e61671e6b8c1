"""Every decision the sweep takes about a stalled cart, including "not invited because…"."""

from __future__ import annotations

from django.db import models


class StallReason(models.TextChoices):
    SHIPPING_SHOCK = "shipping_shock", "Shipping shock"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    COUPON_REJECTED = "coupon_rejected", "Coupon rejected"
    IDLE = "idle", "Idle at a step"


class Decision(models.TextChoices):
    INVITED = "invited", "Invited"
    SUPPRESSED = "suppressed", "Suppressed"
    HELD_OUT = "held_out", "Held out (control)"


class SuppressionReason(models.TextChoices):
    OPTED_OUT = "opted_out", "Visitor opted out"
    FREQUENCY_CAP = "frequency_cap", "Invited recently (frequency cap)"
    QUIET_HOURS = "quiet_hours", "Quiet hours"
    NO_AGENT_AVAILABLE = "no_agent_available", "No agent available"


class InterventionTrigger(models.TextChoices):
    SWEEP = "sweep", "Stall sweep"
    AGENT = "agent", "Agent reached out"


class Intervention(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    cart = models.ForeignKey(
        "cartassist.Cart", on_delete=models.CASCADE, related_name="interventions"
    )
    visitor_id = models.CharField(max_length=64)
    stall_deadline = models.DateTimeField(
        help_text="The deadline that triggered this decision: one intervention per deadline."
    )
    stage = models.CharField(max_length=16)
    stall_reason = models.CharField(max_length=32, choices=StallReason.choices)
    urgency = models.PositiveSmallIntegerField(help_text="0–100, higher is more urgent.")
    inactivity = models.DurationField(help_text="Time since the cart's last activity.")
    cart_value = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    suppression_reason = models.CharField(
        max_length=32, choices=SuppressionReason.choices, blank=True, default=""
    )
    trigger = models.CharField(
        max_length=8, choices=InterventionTrigger.choices, default=InterventionTrigger.SWEEP
    )
    decided_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "stall_deadline"], name="intervention_once_per_deadline"
            )
        ]
        indexes = [
            models.Index(fields=["site", "decided_at"], name="intervention_site_time"),
            models.Index(fields=["site", "visitor_id", "decided_at"], name="intervention_visitor"),
        ]
        ordering = ["-decided_at"]

    def __str__(self) -> str:
        return f"{self.cart_id}: {self.decision} ({self.stall_reason})"
