"""A Site is one storefront that sends events to CartAssist."""

from __future__ import annotations

import secrets
import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from cartassist.core.stamps import stamp_changed
from cartassist.domain.branding import brand_colour_problem, languages_problem
from cartassist.domain.origins import origin_allowed, origin_normalise, origins_normalised
from policies.engine.money import CURRENCY_EXPONENTS

# The stamp of the process-local caches of sites and their stall rules (docs/adr/0018).
SITES_STAMP = "sites"


def new_site_key() -> str:
    return "pk_" + secrets.token_urlsafe(18)


def new_site_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


def default_languages() -> list[str]:
    return ["en"]


def validate_brand_colour(value: str) -> None:
    problem = brand_colour_problem(value)
    if problem:
        raise ValidationError(problem)


def validate_languages(value: object) -> None:
    shipped = [code for code, _name in settings.LANGUAGES]
    problem = languages_problem(value if isinstance(value, list) else [], shipped)
    if problem:
        raise ValidationError(problem)


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from exc


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Site(models.Model):
    name = models.CharField(max_length=120)
    public_key = models.CharField(
        max_length=64,
        unique=True,
        default=new_site_key,
        help_text="Public key the storefront widget sends. Not a secret.",
    )
    secret = models.CharField(
        max_length=128,
        default=new_site_secret,
        help_text="Signs server events, shopper identities and webhooks. Keep it on the server.",
    )
    previous_secret = models.CharField(
        max_length=128,
        blank=True,
        default="",
        help_text="The secret before the last rotation; still accepted until it expires.",
    )
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text="Browser origins the widget may post from, e.g. https://shop.example "
        "(scheme://host[:port]; stored lower-case, without a default port or trailing /).",
    )
    currency = models.CharField(
        max_length=3,
        choices=sorted((code, code) for code in CURRENCY_EXPONENTS),
        default="EUR",
    )
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="IANA time zone."
    )
    quiet_hours_start = models.TimeField(
        null=True, blank=True, help_text="No invitations from this local time (site time zone)."
    )
    quiet_hours_end = models.TimeField(
        null=True, blank=True, help_text="… until this local time. May wrap past midnight."
    )
    frequency_cap_hours = models.PositiveIntegerField(
        default=24, help_text="At most one invitation per visitor within this many hours."
    )
    holdout_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text="Share of eligible stalled carts never invited (control group), 0–1.",
    )
    shipping_shock_ratio = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.150"),
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text="A quoted delivery charge at or above this share of the subtotal is a "
        "'shipping shock' (0.15 = 15 %).",
    )
    attribution_window_hours = models.PositiveIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
        help_text="An order within this many hours after an intervention is credited to it.",
    )
    follow_up_window_days = models.PositiveIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="A contact from the shopper within this many days after outreach counts as "
        "a follow-up contact (helpdesk reports and shopper-started chats).",
    )
    agents_available = models.BooleanField(
        default=True,
        help_text="Outreach switch. When off, no agent counts as available and stalled carts "
        "are suppressed with reason 'no agent available'. When on, an agent must also be "
        "online in the console with a free seat.",
    )
    # What the shopper sees (docs/WIDGET.md, "Branding").
    display_name = models.CharField(
        max_length=80,
        blank=True,
        default="",
        help_text="The shop's name as shoppers know it, e.g. Maple & Thread. Empty: the name.",
    )
    brand_colour = models.CharField(
        max_length=7,
        default="#1f3a5f",
        validators=[validate_brand_colour],
        help_text="#rrggbb for the launcher, buttons and the shopper's messages. White or "
        "black text must reach WCAG AA contrast (4.5:1) on it.",
    )
    logo_url = models.URLField(
        max_length=500,
        blank=True,
        default="",
        help_text="https address of a square logo (at least 64×64 px), shown when no agent "
        "photo is set and on the verification page.",
    )
    languages = models.JSONField(
        default=default_languages,
        validators=[validate_languages],
        help_text='The languages this shop speaks to shoppers, e.g. ["de", "en"]. The first '
        "is the fallback when the page's language is none of them.",
    )
    # Email to shoppers who left a chat (docs/OPERATIONS.md, "Email to shoppers").
    email_sender_address = models.EmailField(
        blank=True,
        default="",
        help_text="The shop's address emails to shoppers come from, e.g. help@shop.example. "
        "Its domain must publish SPF, DKIM and DMARC for the mail server CartAssist uses.",
    )
    email_sender_verified = models.BooleanField(
        default=False,
        help_text='Tick once the sender address is verified (docs/OPERATIONS.md, "Verifying '
        'a sender"): a test email arrived and passed SPF, DKIM and DMARC. No email is sent '
        "to shoppers from an unverified sender.",
    )
    email_daily_limit = models.PositiveIntegerField(
        default=100,
        validators=[MaxValueValidator(100_000)],
        help_text="At most this many emails to shoppers per day (site time zone); 0: none.",
    )
    resume_page_url = models.URLField(
        max_length=500,
        blank=True,
        default="",
        help_text="An https page of the shop that loads the widget, e.g. "
        "https://shop.example/cart: an email's link returns the shopper there, into the "
        "chat. Empty: the email's link opens CartAssist's page for the chat only.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Saved from code as well as from the admin form: origins are stored normalised
        # either way (what cannot be normalised is kept, and matches nothing).
        if isinstance(self.allowed_origins, list):
            self.allowed_origins = origins_normalised(self.allowed_origins)
        super().save(*args, **kwargs)
        stamp_changed(SITES_STAMP)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        stamp_changed(SITES_STAMP)
        return super().delete(*args, **kwargs)

    def clean(self) -> None:
        """Allowed origins are normalised (``https://Shop.example:443/`` →
        ``https://shop.example``); anything that is not an origin is a field error."""
        errors = []
        origins = self.allowed_origins or []
        if not isinstance(origins, list):
            raise ValidationError({"allowed_origins": "Enter a list of origins."})
        normalised = []
        for origin in origins:
            try:
                normalised.append(origin_normalise(str(origin)))
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            raise ValidationError({"allowed_origins": errors})
        self.allowed_origins = list(dict.fromkeys(normalised))
        if self.resume_page_url and not self.origin_is_allowed(_origin_of(self.resume_page_url)):
            raise ValidationError(
                {
                    "resume_page_url": "The widget runs only on the allowed origins: add "
                    "this page's origin to them, or choose a page on one of them."
                }
            )
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            raise ValidationError("Set both quiet hours start and end, or neither.")

    @property
    def email_sender_ready(self) -> bool:
        """An address is set and an operator marked it verified."""
        return bool(self.email_sender_address) and self.email_sender_verified

    @property
    def shopper_facing_name(self) -> str:
        return self.display_name or self.name

    def language_for(self, requested: str | None) -> str:
        """The site's language closest to ``requested`` (``de-AT`` → ``de``), else its first."""
        languages = list(self.languages or ["en"])
        if requested:
            wanted = requested.strip().lower().replace("_", "-")
            for candidate in (wanted, wanted.split("-")[0]):
                if candidate in languages:
                    return candidate
        return languages[0]

    def origin_is_allowed(self, origin: str | None) -> bool:
        """The browser's ``Origin`` header, compared exactly with the stored origins."""
        return origin_allowed(origin, self.allowed_origins or [])

    def valid_secrets(self, now: datetime) -> list[str]:
        """The current secret, plus the previous one during its rotation grace period."""
        keys = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and now < self.previous_secret_expires_at
        ):
            keys.append(self.previous_secret)
        return keys
