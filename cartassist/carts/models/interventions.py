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


class Arm(models.TextChoices):
    """The shopper's arm of the experiment (docs/ANALYTICS.md, "The arms"): drawn once per
    shopper at their first stalled cart, recorded on every intervention, never changed."""

    NONE = "", "Not recorded"
    OUTREACH = "outreach", "Outreach"
    HOLDOUT = "holdout", "Holdout (control)"


class SuppressionReason(models.TextChoices):
    OPTED_OUT = "opted_out", "Visitor opted out"
    FREQUENCY_CAP = "frequency_cap", "Invited recently (frequency cap)"
    QUIET_HOURS = "quiet_hours", "Quiet hours"
    NO_AGENT_AVAILABLE = "no_agent_available", "No agent available"
    HELPDESK_BUSY = "helpdesk_busy", "Helpdesk busy (pacing)"


class InterventionTrigger(models.TextChoices):
    SWEEP = "sweep", "Stall sweep"
    AGENT = "agent", "Agent reached out"


class InvitationResult(models.TextChoices):
    """What became of the invitation, as the shopper saw it."""

    NONE = "", "Not invited"
    PENDING = "pending", "Sent, not yet shown"
    DELIVERED = "delivered", "Shown, no answer yet"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"
    IGNORED = "ignored", "Shown and ignored (expired)"
    UNDELIVERED = "undelivered", "Never shown (expired)"


class Attribution(models.TextChoices):
    NONE = "", "No conversion"
    SAME_CART = "same_cart", "Order on the same cart"
    SAME_SHOPPER = "same_shopper", "Order by the same shopper on another cart"


def _amount(help_text: str) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=3, default=0, help_text=help_text)


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
    arm = models.CharField(
        max_length=8,
        choices=Arm.choices,
        blank=True,
        default="",
        help_text="The shopper's arm, fixed at their first stalled cart (services/arms.py).",
    )
    returning_shopper = models.BooleanField(
        default=False,
        help_text="The shopper had an earlier intervention when this one was decided.",
    )
    trigger = models.CharField(
        max_length=8, choices=InterventionTrigger.choices, default=InterventionTrigger.SWEEP
    )
    decided_at = models.DateTimeField()
    paced_wait = models.DurationField(
        null=True,
        blank=True,
        help_text="How long the decision waited for the helpdesk's capacity (pacing), from "
        "the stall deadline; empty when it did not wait.",
    )

    # The outcome (cartassist/outcomes/services/outcomes.py). Derived from the invitation, the
    # conversation, offers, grants, orders and follow-up contacts; recomputing it from
    # those gives the same values, so it can be refreshed at any time.
    invitation_result = models.CharField(
        max_length=12, choices=InvitationResult.choices, blank=True, default=""
    )
    agent = models.ForeignKey(
        "agents.AgentProfile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The agent who handled the chat.",
    )
    first_response_seconds = models.FloatField(
        null=True, blank=True, help_text="Chat opened → first agent message."
    )
    chat_duration_seconds = models.FloatField(null=True, blank=True)
    visitor_messages = models.PositiveIntegerField(default=0)
    agent_messages = models.PositiveIntegerField(default=0)
    offers_made = models.PositiveSmallIntegerField(default=0)
    offer_accepted = models.BooleanField(default=False)
    remedy_kind = models.CharField(
        max_length=16, blank=True, default="", help_text="The remedy granted (first grant)."
    )
    policy = models.ForeignKey(
        "policies.Policy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The policy that allowed the first grant.",
    )
    policy_version = models.ForeignKey(
        "policies.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    granted_amount = _amount("Sum of the grants issued for this intervention.")
    remedy_cost = _amount("Sum of the grants redeemed on an order: money actually given.")
    converted = models.BooleanField(
        default=False, help_text="An order within the attribution window is credited to it."
    )
    converted_at = models.DateTimeField(null=True, blank=True)
    order_id = models.CharField(max_length=64, blank=True, default="")
    attribution = models.CharField(
        max_length=16, choices=Attribution.choices, blank=True, default=""
    )
    revenue = _amount("Order total credited to this intervention.")
    net_revenue = _amount("Revenue minus remedy cost.")
    follow_ups = models.PositiveSmallIntegerField(
        default=0, help_text="Follow-up contacts attributed to this intervention."
    )
    outcome_final = models.BooleanField(
        default=False, help_text="The attribution window has closed and the outcome is final."
    )
    outcome_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "stall_deadline"], name="intervention_once_per_deadline"
            )
        ]
        indexes = [
            models.Index(fields=["site", "decided_at"], name="intervention_site_time"),
            models.Index(fields=["site", "visitor_id", "decided_at"], name="intervention_visitor"),
            # The finaliser's access path: open outcomes, oldest first.
            models.Index(
                fields=["decided_at"],
                name="intervention_outcome_open",
                condition=models.Q(outcome_final=False),
            ),
            # The analytics pick a response-time percentile's exact value among the chats
            # of one whole second (docs/ANALYTICS.md, "Time to first response").
            models.Index(
                fields=["first_response_seconds", "decided_at", "site"],
                name="intervention_chat_seconds",
                condition=models.Q(decision="invited", first_response_seconds__isnull=False),
            ),
        ]
        ordering = ["-decided_at"]

    def __str__(self) -> str:
        return f"{self.cart_id}: {self.decision} ({self.stall_reason})"
