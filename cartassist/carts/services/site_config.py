"""What ingestion reads of a site on every request, cached in the process (docs/adr/0018).

A site (found by its public key) and its stall rules change rarely and are read by every
event request. Both are kept in process-local ``StampedCache``s under the stamp
``SITES_STAMP``: ``Site.save``/``delete`` and ``StallRule.save``/``delete`` (the admin,
``site_setup``, secret rotation) empty this process's copies at once and tell the other
processes on commit; another process serves the old row for at most
``CARTASSIST_LOCAL_CACHE_SECONDS``. Code that changes these rows with ``QuerySet.update``
or a bulk delete calls ``sites_changed()`` itself.

The cached ``Site`` instances are shared by the requests of a process: read-only.
"""

from __future__ import annotations

from cartassist.carts.models import Site, StallRule
from cartassist.carts.models.sites import SITES_STAMP
from cartassist.core.stamps import StampedCache, stamp_changed
from cartassist.domain.stalls import RuleSnapshot

_sites_by_key: StampedCache[str, Site | None] = StampedCache(SITES_STAMP)
_rules_by_site: StampedCache[int, dict[str, RuleSnapshot]] = StampedCache(SITES_STAMP)


def sites_changed() -> None:
    """Sites or stall rules changed without ``save()``/``delete()`` (``update()``, bulk
    deletes): forget the cached copies, here at once and elsewhere on commit."""
    stamp_changed(SITES_STAMP)


def site_for_public_key(public_key: str) -> Site | None:
    """The site with this public key, from the process's cache; None when unknown (not
    cached: a site created a moment ago is found at once)."""
    site = _sites_by_key.get(public_key, lambda: Site.objects.filter(public_key=public_key).first())
    if site is None:
        _sites_by_key.forget(public_key)
    return site


def site_rule_snapshots(site_id: int) -> dict[str, RuleSnapshot]:
    """The site's stall rules by stage, from the process's cache."""
    return _rules_by_site.get(site_id, lambda: _rules_load(site_id))


def _rules_load(site_id: int) -> dict[str, RuleSnapshot]:
    return {
        rule.stage: RuleSnapshot(
            inactivity_threshold=rule.inactivity_threshold,
            minimum_cart_value=rule.minimum_cart_value,
            enabled=rule.enabled,
        )
        for rule in StallRule.objects.filter(site_id=site_id)
    }
