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


class ShopperEmailAddress(models.Model):
    """The deliverable address a signed server event gave a cart, for the one email an
    agent may send a shopper who left a chat (docs/adr/0025). Unlike the keyed hashes
    above, this is the clear value: it is kept only for carts whose events came signed,
    deleted when the shopper opts out, and purged after
    ``CARTASSIST_SHOPPER_EMAIL_RETENTION_DAYS`` without a new event (housekeeping)."""

    site = models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")
    cart = models.OneToOneField(
        "cartassist.Cart", on_delete=models.CASCADE, related_name="email_address"
    )
    visitor_id = models.CharField(max_length=64)
    address = models.EmailField(max_length=254)
    recorded_at = models.DateTimeField(help_text="The last signed event that gave it.")

    class Meta:
        indexes = [
            models.Index(fields=["site", "visitor_id"], name="shopper_email_visitor"),
            models.Index(fields=["recorded_at"], name="shopper_email_retention"),
        ]

    def __str__(self) -> str:
        return f"cart {self.cart_id}"
