"""Policies (editable), their immutable versions, budgets, offers, grants and the audit log.

The rules themselves are evaluated by the pure engine (policies/engine); ``specs.py``
turns a ``Policy`` into the engine's ``PolicySpec``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class RemedyKindChoices(models.TextChoices):
    WAIVE_DELIVERY = "waive_delivery", "Waive the delivery charge"
    REDUCE_DELIVERY = "reduce_delivery", "Reduce the delivery charge"
    DISCOUNT = "discount", "Discount on the cart"
    FREE_GIFT = "free_gift", "Free gift"
    HOLD_STOCK = "hold_stock", "Hold stock"


class StackingChoices(models.TextChoices):
    COMBINABLE = "combinable", "Combinable with other remedies"
    EXCLUSIVE = "exclusive", "Exclusive: no other remedy on the same cart"


def _money_field(help_text: str, **kwargs: Any) -> models.DecimalField:
    return models.DecimalField(
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=help_text,
        **kwargs,
    )


def _percent_field(help_text: str) -> models.DecimalField:
    return models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=help_text,
    )


class Policy(models.Model):
    """What agents may offer, for which carts, within which limits. Editing creates a new
    ``PolicyVersion``; offers and grants point at the version that allowed them."""

    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    priority = models.PositiveIntegerField(
        default=100, help_text="Lower numbers are considered first when several policies apply."
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)

    # Conditions (empty = any)
    min_cart_value = _money_field("Cart value at least this (site currency).")
    max_cart_value = _money_field("Cart value at most this.")
    stages = models.JSONField(default=list, blank=True, help_text="Checkout stages it applies at.")
    stall_reasons = models.JSONField(
        default=list, blank=True, help_text="Stall reasons it applies to."
    )
    segments = models.JSONField(
        default=list, blank=True, help_text="Customer segments: new, returning, vip."
    )
    countries = models.JSONField(
        default=list, blank=True, help_text="Shipping countries (ISO 3166 codes, e.g. DE, FR)."
    )
    include_categories = models.JSONField(default=list, blank=True)
    exclude_categories = models.JSONField(default=list, blank=True)
    include_skus = models.JSONField(default=list, blank=True)
    exclude_skus = models.JSONField(default=list, blank=True)
    min_delivery_charge = _money_field("Only when the delivery charge is at least this.")

    # Remedies
    waive_delivery = models.BooleanField(default=False, verbose_name="allow waiving delivery")
    waive_delivery_cap = _money_field("Waive at most this much (empty: the whole charge).")
    reduce_delivery = models.BooleanField(default=False, verbose_name="allow reducing delivery")
    reduce_delivery_max_percent = _percent_field("Reduce delivery by up to this percentage.")
    reduce_delivery_max_amount = _money_field("Reduce delivery by up to this amount.")
    discount = models.BooleanField(default=False, verbose_name="allow a discount")
    discount_max_percent = _percent_field("Discount up to this percentage of the cart value.")
    discount_max_amount = _money_field("Discount up to this amount.")
    free_gift_sku = models.CharField(
        max_length=64, blank=True, help_text="SKU of a free gift agents may add (empty: none)."
    )
    free_gift_value = _money_field("What the gift costs; counted against budgets.")
    hold_stock_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(168)],
        help_text="Agents may hold the cart's stock for this many hours (empty: not allowed).",
    )

    # Limits
    max_per_offer = _money_field("No single offer above this.")
    daily_budget = _money_field("Total per day (site time zone), offers reserved + granted.")
    monthly_budget = _money_field("Total per calendar month.")
    per_agent_daily_cap = _money_field("Per agent per day.")
    once_per_customer_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="One grant per customer under this policy every N days."
    )
    approval_above = _money_field("Offers above this need a supervisor's approval.")
    stacking = models.CharField(
        max_length=12, choices=StackingChoices.choices, default=StackingChoices.COMBINABLE
    )

    current_version = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "priority", "pk"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    """An immutable snapshot of a policy's rules (the engine's raw spec)."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="policy_version_unique")
        ]
        ordering = ["policy", "-number"]

    def __str__(self) -> str:
        return f"{self.policy} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Only ever created: offers, grants, the audit log and the cache of validated
        specs (policies/specs.py, ADR 0020) rely on a version never changing."""
        if not self._state.adding:
            raise ValueError(f"policy version {self.pk} is immutable; save the policy instead")
        super().save(*args, **kwargs)


class PolicySetVersion(models.Model):
    """Which set of current policy versions a site has: a token renewed, in the same
    transaction, by every change of which versions are current (``policies_changed``,
    ADR 0026). Readers see it change exactly when the change commits; a site without a
    row has token 0 (no change since this table was added)."""

    site = models.OneToOneField(
        "cartassist.Site",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="policy_set_version",
    )
    token = models.BigIntegerField(
        help_text="Random, renewed on each change: a rolled-back token is never used again."
    )

    def __str__(self) -> str:
        return f"policies of site {self.site_id}: {self.token:x}"


class BudgetPeriod(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"
    AGENT_DAY = "agent_day", "Agent day"


class BudgetCounter(models.Model):
    """Spend (reserved + granted) of one policy in one period; changed only by atomic,
    conditional UPDATEs (docs/adr/0007)."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="budget_counters")
    period = models.CharField(max_length=10, choices=BudgetPeriod.choices)
    period_start = models.DateField()
    agent_key = models.PositiveIntegerField(
        default=0, help_text="The agent's profile id for per-agent caps; 0 for the whole policy."
    )
    spent = models.DecimalField(max_digits=14, decimal_places=3, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "period", "period_start", "agent_key"],
                name="budget_counter_unique",
            ),
            models.CheckConstraint(condition=models.Q(spent__gte=0), name="budget_never_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.period} {self.period_start}: {self.spent}"


class OfferStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Waiting for a supervisor"
    OFFERED = "offered", "Offered to the shopper"
    ACCEPTED = "accepted", "Accepted (grant issued)"
    DECLINED = "declined", "Declined by the shopper"
    DENIED = "denied", "Denied by a supervisor"
    EXPIRED = "expired", "Expired"
    REFUSED_ON_ACCEPT = "refused_on_accept", "Refused at acceptance (cart changed)"


# Offers that ended without becoming spend: their reservation must have been released.
UNACCEPTED_FINISHED = [
    OfferStatus.DECLINED,
    OfferStatus.DENIED,
    OfferStatus.EXPIRED,
    OfferStatus.REFUSED_ON_ACCEPT,
]


class Offer(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "agents.Conversation", on_delete=models.CASCADE, related_name="offers"
    )
    cart = models.ForeignKey("cartassist.Cart", on_delete=models.CASCADE, related_name="offers")
    agent = models.ForeignKey(
        "agents.AgentProfile", on_delete=models.PROTECT, related_name="offers"
    )
    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, related_name="offers"
    )
    kind = models.CharField(max_length=16, choices=RemedyKindChoices.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3)
    gift_sku = models.CharField(max_length=64, blank=True)
    hold_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    exclusive = models.BooleanField(default=False)
    total_before = models.DecimalField(max_digits=14, decimal_places=3)
    total_after = models.DecimalField(max_digits=14, decimal_places=3)
    status = models.CharField(max_length=20, choices=OfferStatus.choices)
    reserved_counters = models.JSONField(
        default=list, blank=True, help_text="BudgetCounter ids this offer's amount is reserved on."
    )
    released_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reservation was released (exactly once)."
    )
    approved_by = models.ForeignKey(
        "agents.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refusal_reason = models.CharField(max_length=300, blank=True)
    refusal_code = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="Why the acceptance was refused, as a code the widget words in the "
        "shopper's language: cart_changed, currency_changed, delivery_changed, "
        "total_below_discount (docs/REALTIME.md).",
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "expires_at"], name="offer_expiry"),
            models.Index(fields=["cart", "status"], name="offer_cart"),
            # The housekeeping repair pass: finished, unaccepted offers still holding a
            # reservation (normally none, so the index stays empty).
            models.Index(
                fields=["id"],
                name="offer_unreleased",
                condition=models.Q(
                    released_at__isnull=True,
                    status__in=UNACCEPTED_FINISHED,
                ),
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount or ''} {self.currency} ({self.status})"


class Grant(models.Model):
    """A signed, single-use, expiring right to apply a remedy to one cart of one site."""

    offer = models.OneToOneField(Offer, on_delete=models.PROTECT, related_name="grant")
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    cart = models.ForeignKey("cartassist.Cart", on_delete=models.CASCADE, related_name="grants")
    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, related_name="grants"
    )
    token_id = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=16, choices=RemedyKindChoices.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    order_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"Grant {self.token_id}"


class AuditAction(models.TextChoices):
    OFFER_CREATED = "offer_created", "Offer made"
    OFFER_REFUSED = "offer_refused", "Offer refused by policy"
    APPROVAL_REQUESTED = "approval_requested", "Approval requested"
    OFFER_APPROVED = "offer_approved", "Approved by supervisor"
    OFFER_DENIED = "offer_denied", "Denied by supervisor"
    OFFER_ACCEPTED = "offer_accepted", "Accepted by shopper"
    OFFER_DECLINED = "offer_declined", "Declined by shopper"
    OFFER_EXPIRED = "offer_expired", "Expired"
    ACCEPT_REFUSED = "accept_refused", "Acceptance refused (cart changed)"
    GRANT_ISSUED = "grant_issued", "Grant issued"
    GRANT_REDEEMED = "grant_redeemed", "Grant redeemed"
    REDEEM_REFUSED = "redeem_refused", "Redemption refused"


class AuditEntry(models.Model):
    """Append-only: who did what, for which cart, under which policy version, outcome."""

    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    action = models.CharField(max_length=24, choices=AuditAction.choices)
    actor = models.CharField(max_length=120, help_text="Agent, supervisor, shopper or shop.")
    cart = models.ForeignKey(
        "cartassist.Cart", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    grant = models.ForeignKey(
        Grant, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    policy_version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["site", "at"], name="audit_site_time")]
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"
