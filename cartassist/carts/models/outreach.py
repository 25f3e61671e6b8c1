"""Who to recognise when a shopper contacts the shop after outreach (docs/API.md,
"Outreach lookup"): keyed hashes of the emails and phone numbers signed server events
gave a cart. The clear values are never stored (cartassist/domain/contacts.py)."""

from __future__ import annotations

from django.db import models


class ContactKind(models.TextChoices):
    EMAIL = "email", "Email address"
    PHONE = "phone", "Phone number"


class ContactIdentity(models.Model):
    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=5, choices=ContactKind.choices)
    digest = models.CharField(
        max_length=64,
        help_text="Hex HMAC-SHA256 of the normalised value with the site's contact key; "
        "the value itself is never stored.",
    )
    cart = models.ForeignKey("cartassist.Cart", on_delete=models.CASCADE, related_name="+")
    first_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "kind", "digest", "cart"], name="contact_identity_once_per_cart"
            )
        ]
        indexes = [models.Index(fields=["site", "kind", "digest"], name="contact_identity_lookup")]

    def __str__(self) -> str:
        return f"{self.kind} {self.digest[:12]}… → cart {self.cart_id}"


class FollowUpResolution(models.TextChoices):
    SELF_SERVED = "self_served", "Resolved by the lookup (no agent)"
    AGENT = "agent", "Handed to an agent"
