"""The only bridge between Policy rows and the engine's PolicySpec (both directions),
and the caches that spare the remedies list re-reading and re-validating every current
policy version on every call (ADR 0020).

Two caches, both in the process:

- **Validated specs by version.** A ``PolicyVersion`` is only ever created, never changed
  (``PolicyVersion.save`` refuses an update), so its validated spec is valid for as long
  as the row exists. Keyed by (id, created_at): an id that SQLite hands out again after a
  rolled-back insert cannot find another version's spec. Bounded (``SPEC_CACHE_SIZE``,
  least recently used out).
- **The set of current versions per site**, tagged with the site's change stamp, a
  random token in the shared cache (Redis in production). ``policies_changed`` drops the
  process's own entry and writes a new stamp at once and again when the transaction
  commits, so every process reloads on its next call: a reader is stale only between a
  commit and the stamp written after it. If the shared cache cannot be read, the set is
  read from the database (never served unchecked); an entry is also reloaded after
  ``CURRENT_MAX_AGE`` seconds, the bound if a stamp write was lost. Offers never rely on
  it: their re-authorisation reads the current versions again (``fresh=True``).

Budget spend is never cached: it is read live for every evaluation (services/context.py).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from redis.exceptions import RedisError

from policies.engine import PolicySpec, SpecError, validate_spec
from policies.models import Policy, PolicyVersion

logger = logging.getLogger(__name__)

# Validated specs kept per process (a spec of a few remedies is a few KiB at most).
SPEC_CACHE_SIZE = 20_000
# Seconds after which a site's current set is read again even without a new stamp.
CURRENT_MAX_AGE = 60.0
_STAMP_KEY = "policies:current:{}"


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def raw_spec(policy: Policy, *, currency: str) -> dict[str, Any]:
    """The engine's raw spec for ``policy`` as edited (not yet saved is fine)."""
    remedies: list[dict[str, Any]] = []
    if policy.waive_delivery:
        remedies.append(
            {"kind": "waive_delivery", "max_amount": _amount(policy.waive_delivery_cap)}
        )
    if policy.reduce_delivery:
        remedies.append(
            {
                "kind": "reduce_delivery",
                "max_percent": _amount(policy.reduce_delivery_max_percent),
                "max_amount": _amount(policy.reduce_delivery_max_amount),
            }
        )
    if policy.discount:
        remedies.append(
            {
                "kind": "discount",
                "max_percent": _amount(policy.discount_max_percent),
                "max_amount": _amount(policy.discount_max_amount),
            }
        )
    if policy.free_gift_sku:
        remedies.append(
            {
                "kind": "free_gift",
                "gift_sku": policy.free_gift_sku,
                "gift_value": _amount(policy.free_gift_value),
            }
        )
    if policy.hold_stock_hours:
        remedies.append({"kind": "hold_stock", "hold_hours": policy.hold_stock_hours})
    return {
        "name": policy.name,
        "currency": currency,
        "priority": policy.priority,
        "active": policy.active,
        "valid_from": policy.valid_from.isoformat() if policy.valid_from else None,
        "valid_until": policy.valid_until.isoformat() if policy.valid_until else None,
        "conditions": {
            "min_cart_value": _amount(policy.min_cart_value),
            "max_cart_value": _amount(policy.max_cart_value),
            "stages": list(policy.stages or []),
            "stall_reasons": list(policy.stall_reasons or []),
            "segments": list(policy.segments or []),
            "countries": list(policy.countries or []),
            "include_categories": list(policy.include_categories or []),
            "exclude_categories": list(policy.exclude_categories or []),
            "include_skus": list(policy.include_skus or []),
            "exclude_skus": list(policy.exclude_skus or []),
            "min_delivery_charge": _amount(policy.min_delivery_charge),
        },
        "remedies": remedies,
        "limits": {
            "max_per_offer": _amount(policy.max_per_offer),
            "daily_budget": _amount(policy.daily_budget),
            "monthly_budget": _amount(policy.monthly_budget),
            "per_agent_daily_cap": _amount(policy.per_agent_daily_cap),
            "once_per_customer_days": policy.once_per_customer_days,
            "approval_above": _amount(policy.approval_above),
        },
        "stacking": policy.stacking,
    }


def check_policy(policy: Policy, *, currency: str) -> list[SpecError]:
    """Validation errors of ``policy`` as edited (admin form clean)."""
    result = validate_spec(raw_spec(policy, currency=currency))
    return result if isinstance(result, list) else []


def spec_of(version: PolicyVersion) -> PolicySpec:
    """Load a stored version into the engine, validating it again on the way in."""
    result = validate_spec(version.spec, version_id=version.pk, policy_id=version.policy_id)
    if isinstance(result, list):
        raise ValueError(f"policy version {version.pk} is invalid: {result}")
    return result


@dataclass(frozen=True)
class CurrentPolicies:
    """The current version of every policy of a site (inactive ones too: the engine
    reports them as "switched off", which is a useful reason to show)."""

    specs: tuple[PolicySpec, ...]
    numbers: Mapping[int, int]  # version id → version number


class _Entry(NamedTuple):
    stamp: str
    loaded_at: float  # time.monotonic() before the rows were read
    policies: CurrentPolicies


_lock = threading.Lock()
_specs: OrderedDict[tuple[int, datetime], PolicySpec] = OrderedDict()
_current: dict[int, _Entry] = {}
# Sites this thread changed in its open transaction: what it reads of them is not cached
# (a rollback would leave it under the stamp already renewed).
_uncommitted = threading.local()


def _uncommitted_sites() -> set[int]:
    sites: set[int] | None = getattr(_uncommitted, "sites", None)
    if sites is None:
        sites = _uncommitted.sites = set()
    return sites


def current_policies(*, site_id: int, fresh: bool = False) -> CurrentPolicies:
    """The site's current policy versions, validated.

    From the process's cache while the site's change stamp is the one it was loaded
    under; ``fresh`` reads which versions are current from the database whatever the
    stamp says (an offer's re-authorisation, in its transaction). Either way the specs
    come validated from the cache of versions; only versions not seen yet are read and
    validated.
    """
    stamp = None if fresh else _stamp(site_id)
    uncommitted = _uncommitted_sites()
    if uncommitted and not connection.in_atomic_block:
        uncommitted.clear()  # the transaction ended: committed (see _committed) or not
    # A site this thread changed in its open transaction: its own rows, never the cache.
    cacheable = stamp is not None and site_id not in uncommitted
    if cacheable:
        entry = _current.get(site_id)
        if (
            entry is not None
            and entry.stamp == stamp
            and time.monotonic() - entry.loaded_at < CURRENT_MAX_AGE
        ):
            return entry.policies
    loaded_at = time.monotonic()
    policies = _current_load(site_id)
    if cacheable and stamp is not None:
        _current[site_id] = _Entry(stamp, loaded_at, policies)
    return policies


def current_specs(*, site_id: int) -> list[PolicySpec]:
    """The current specs of the site (``current_policies``)."""
    return list(current_policies(site_id=site_id).specs)


def policies_changed(*, site_id: int) -> None:
    """A policy of the site got a new current version or was deleted: every process
    reads the site's current versions again on its next call. Call it inside the
    transaction that makes the change: the stamp is renewed now (this process and
    this transaction see the change at once) and again once the change commits (a process
    that reloaded meanwhile saw the rows as they were before it). Until then, what this
    thread reads of the site is not cached: a rollback must not leave the changed set
    under the renewed stamp."""
    _stamp_renew(site_id)
    if connection.in_atomic_block:
        _uncommitted_sites().add(site_id)
    transaction.on_commit(lambda: _committed(site_id))


def _committed(site_id: int) -> None:
    _uncommitted_sites().discard(site_id)
    _stamp_renew(site_id)


def policy_caches_clear() -> None:
    """Forget everything cached in this process (tests: ids are reused after rollbacks)."""
    with _lock:
        _specs.clear()
        _current.clear()
    _uncommitted_sites().clear()


def _current_load(site_id: int) -> CurrentPolicies:
    rows = list(
        PolicyVersion.objects.filter(
            policy__site_id=site_id, policy__current_version=F("pk")
        ).values_list("pk", "number", "created_at")
    )
    found: dict[tuple[int, datetime], PolicySpec] = {}
    with _lock:
        for pk, _, created_at in rows:
            spec = _specs.get((pk, created_at))
            if spec is not None:
                _specs.move_to_end((pk, created_at))
                found[(pk, created_at)] = spec
    missing = [(pk, created_at) for pk, _, created_at in rows if (pk, created_at) not in found]
    if missing:
        for version in PolicyVersion.objects.filter(pk__in=[pk for pk, _ in missing]):
            found[(version.pk, version.created_at)] = spec_of(version)
        with _lock:
            for key in missing:
                _specs[key] = found[key]
            while len(_specs) > SPEC_CACHE_SIZE:
                _specs.popitem(last=False)
    return CurrentPolicies(
        specs=tuple(found[(pk, created_at)] for pk, _, created_at in rows),
        numbers={pk: number for pk, number, _ in rows},
    )


def _stamp(site_id: int) -> str | None:
    """The site's change stamp; a new one if the shared cache has none (never set, or
    evicted); None if the shared cache cannot be read."""
    key = _STAMP_KEY.format(site_id)
    try:
        stamp = cache.get(key)
        if stamp is None:
            cache.add(key, uuid.uuid4().hex, timeout=None)
            stamp = cache.get(key)
    except RedisError:
        logger.warning("policy change stamp unreadable; reading policies from the database")
        return None
    return stamp if isinstance(stamp, str) else None


def _stamp_renew(site_id: int) -> None:
    _current.pop(site_id, None)
    try:
        cache.set(_STAMP_KEY.format(site_id), uuid.uuid4().hex, timeout=None)
    except RedisError:
        logger.warning(
            "policy change stamp of site %s not renewed: other processes may use the "
            "previous policies for up to %s s",
            site_id,
            CURRENT_MAX_AGE,
        )
