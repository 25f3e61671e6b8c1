"""Site services."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cartassist.locks import for_update
from cartassist.models import Site
from cartassist.models.sites import new_site_secret


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
