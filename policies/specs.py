"""The only bridge between Policy rows and the engine's PolicySpec (both directions),
and the caches that spare the remedies list re-reading and re-validating every current
policy version on every call (ADR 0020).

Two caches, both in the process:

- **Validated specs by version.** A ``PolicyVersion`` is only ever created, never changed
  (``PolicyVersion.save`` refuses an update), so its validated spec is valid for as long
  as the row exists. Keyed by (id, created_at): an id that SQLite hands out again after a
  rolled-back insert cannot find another version's spec. Bounded (``SPEC_CACHE_SIZE``,
  least recently used out).
- **The set of current versions per site**, compiled into the engine's ``PolicyIndex``,
  in the shared mechanism of process-local caches (``cartassist.core.stamps.StampedCache``,
  ADR 0018) under the stamp ``policies``, compared with the shared token (Redis in
  production) on every call (interval 0). ``policies_changed`` empties this process's
  sets at once and renews the token when the transaction commits, so every process
  reloads on its next call: a reader is stale only between a commit and the token
  written after it. If the shared cache cannot be read, the set is read from the
  database on every call (never served unchecked); the sets are also reloaded every
  ``CURRENT_MAX_AGE`` seconds, the bound if a token write was lost. Offers never rely on
  it: their re-authorisation reads the current versions again (``fresh=True``).

Budget spend is never cached: it is read live for every evaluation (services/context.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import F

from cartassist.core.stamps import StampedCache, stamp_changed
from policies.engine import PolicyIndex, PolicySpec, SpecError, validate_spec
from policies.models import Policy, PolicyVersion

# Validated specs kept per process (a spec of a few remedies is a few KiB at most).
SPEC_CACHE_SIZE = 20_000
# Seconds after which the sites' current sets are read again even without a new stamp.
CURRENT_MAX_AGE = 60.0
POLICIES_STAMP = "policies"


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
    reports them as "switched off", which is a useful reason to show), compiled into the
    engine's ``PolicyIndex`` once per set."""

    specs: tuple[PolicySpec, ...]
    numbers: Mapping[int, int]  # version id → version number
    index: PolicyIndex
    versions: frozenset[tuple[int, datetime]]  # (id, created_at) of each version


_lock = threading.Lock()
_specs: OrderedDict[tuple[int, datetime], PolicySpec] = OrderedDict()
# Each site's current set, compared with the shared stamp on every read (interval 0).
_current: StampedCache[int, CurrentPolicies] = StampedCache(
    POLICIES_STAMP, interval=0, max_age=CURRENT_MAX_AGE
)


def current_policies(*, site_id: int, fresh: bool = False) -> CurrentPolicies:
    """The site's current policy versions, validated and indexed.

    From the process's cache while the policies' change stamp is the one it was loaded
    under (``StampedCache``, compared on every call); ``fresh`` reads which versions are
    current from the database whatever the stamp says (an offer's re-authorisation, in its
    transaction), and takes the cached set only when it holds exactly those versions.
    Either way the specs come validated from the cache of versions; only versions not
    seen yet are read and validated.
    """
    if not fresh:
        return _current.get(site_id, lambda: _current_load(site_id))
    rows = _current_rows(site_id)
    cached = _current.peek(site_id)
    if cached is not None and cached.versions == {(pk, at) for pk, _, at in rows}:
        return cached  # versions never change: the same versions, the same set
    return _current_set(rows)


def current_specs(*, site_id: int) -> list[PolicySpec]:
    """The current specs of the site (``current_policies``)."""
    return list(current_policies(site_id=site_id).specs)


def policies_changed(*, site_id: int) -> None:
    """A policy of the site got a new current version or was deleted: every process
    reads the current versions again on its next call (``stamp_changed``: this process
    at once, the others once the change commits; until then this thread reads its own
    rows past the cache, so that a rollback leaves nothing behind). The stamp is shared
    by every site's set: policy changes are rare, and a reload reads three columns."""
    stamp_changed(POLICIES_STAMP)


def policy_caches_clear() -> None:
    """Forget everything cached in this process (tests: ids are reused after rollbacks)."""
    with _lock:
        _specs.clear()
    _current.clear()


def _current_rows(site_id: int) -> list[tuple[int, int, datetime]]:
    """(id, number, created_at) of each current version of the site."""
    return list(
        PolicyVersion.objects.filter(
            policy__site_id=site_id, policy__current_version=F("pk")
        ).values_list("pk", "number", "created_at")
    )


def _current_load(site_id: int) -> CurrentPolicies:
    return _current_set(_current_rows(site_id))


def _current_set(rows: list[tuple[int, int, datetime]]) -> CurrentPolicies:
    """The validated, indexed set of these versions: specs from the cache of versions,
    the others read and validated once."""
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
    specs = tuple(found[(pk, created_at)] for pk, _, created_at in rows)
    return CurrentPolicies(
        specs=specs,
        numbers={pk: number for pk, number, _ in rows},
        index=PolicyIndex(specs),
        versions=frozenset(found),
    )
