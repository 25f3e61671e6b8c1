"""Site services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cartassist.carts.models import Site, Stage, StallRule
from cartassist.carts.models.sites import new_site_secret
from cartassist.core.locks import for_update


def site_secret_rotate(*, site: Site) -> Site:
    """Give ``site`` a new secret; the old one stays valid for the rotation grace period,
    so shop backends can switch without dropping events."""
    with transaction.atomic():
        site = for_update(Site.objects.all()).get(pk=site.pk)
        site.previous_secret = site.secret
        site.previous_secret_expires_at = timezone.now() + settings.CARTASSIST_SECRET_ROTATION_GRACE
        site.secret = new_site_secret()
        site.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return site


@dataclass(frozen=True)
class StallRuleSpec:
    """A stage's stall rule as an operator gives it (``shipping=300:20.00``)."""

    stage: Stage
    threshold: timedelta
    minimum_cart_value: Decimal = Decimal(0)


@transaction.atomic
def site_setup(
    *,
    name: str,
    origins: list[str] | None = None,
    currency: str | None = None,
    timezone_name: str | None = None,
    stall_rules: list[StallRuleSpec] | None = None,
) -> tuple[Site, bool]:
    """Create the site called ``name``, or update it: what is given replaces what it had
    (origins, currency, time zone), stall rules are set per stage given (others stay).
    Validates like the admin (``full_clean``: origins, time zone, thresholds); raises
    ``ValidationError`` and changes nothing on bad input. Returns the site and whether it
    was created. docs/OPERATIONS.md, "First set-up"."""
    matches = list(Site.objects.select_for_update().filter(name=name)[:2])
    if len(matches) > 1:
        raise ValidationError({"name": [f"Several sites are called {name!r}; rename one."]})
    created = not matches
    site = Site(name=name) if created else matches[0]
    if origins is not None:
        site.allowed_origins = list(origins)
    if currency is not None:
        site.currency = currency
    if timezone_name is not None:
        site.timezone = timezone_name
    site.full_clean()
    site.save()
    for spec in stall_rules or []:
        rule = StallRule.objects.filter(site=site, stage=spec.stage).first() or StallRule(
            site=site, stage=spec.stage
        )
        rule.inactivity_threshold = spec.threshold
        rule.minimum_cart_value = spec.minimum_cart_value
        rule.enabled = True
        rule.full_clean()
        rule.save()
    return site, created
