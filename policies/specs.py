"""The only bridge between Policy rows and the engine's PolicySpec (both directions),
and the caches that spare the remedies list re-reading and re-validating every current
policy version on every call (ADR 0020, ADR 0026).

Two caches, both in the process:

- **Validated specs by version.** A ``PolicyVersion`` is only ever created, never changed
  (``PolicyVersion.save`` refuses an update), so its validated spec is valid for as long
  as the row exists. Keyed by (id, created_at): an id that SQLite hands out again after a
  rolled-back insert cannot find another version's spec. Bounded (``SPEC_CACHE_SIZE``,
  least recently used out).
- **The set of current versions per site**, compiled into the engine's ``PolicyIndex``,
  kept under the site's policy-set token (``PolicySetVersion``, ADR 0026). Every change
  of which versions are current renews the token in its own transaction
  (``policies_changed``), so a reader sees a new token exactly when the change commits
  (no shared cache, no on-commit write, no maximum age), and a change reloads only that
  site's set. Tokens are random: one written by a transaction that rolled back is never
  written again, so a set read inside it can never be served under a committed token.
  Callers read the token in the same statement as the rest of what they need (the
  console's panel) or with ``policy_set_token``, then ask for the set under it
  (``current_policies_at``); an offer's re-authorisation does so in its transaction.

Budget spend is never cached: it is read live for every evaluation (services/context.py).
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from cartassist.core.sql import sql_column, sql_table
from policies.engine import PolicyIndex, PolicySpec, SpecError, validate_spec
from policies.models import Policy, PolicySetVersion, PolicyVersion

# Validated specs kept per process (a spec of a few remedies is a few KiB at most).
SPEC_CACHE_SIZE = 20_000
# Sites whose current set is kept per process (all of them, in practice).
CURRENT_CACHE_SIZE = 10_000


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
    engine's ``PolicyIndex`` once per set, with the site's policy-set token it was read
    under."""

    specs: tuple[PolicySpec, ...]
    numbers: Mapping[int, int]  # version id → version number
    index: PolicyIndex
    versions: frozenset[tuple[int, datetime]]  # (id, created_at) of each version
    token: int = 0


_lock = threading.Lock()
_specs: OrderedDict[tuple[int, datetime], PolicySpec] = OrderedDict()
_current: dict[int, CurrentPolicies] = {}  # site id → its set, under its token


def current_policies(*, site_id: int) -> CurrentPolicies:
    """The site's current policy versions, validated and indexed: the site's token read
    now (``policy_set_token``, one query), then ``current_policies_at``."""
    return current_policies_at(site_id=site_id, token=policy_set_token(site_id=site_id))


def current_policies_at(*, site_id: int, token: int) -> CurrentPolicies:
    """The site's current set under ``token``, which the caller has just read
    (``policy_set_token``, or the console panel's statement).

    From the process's cache when it holds the set of that token; otherwise the token and
    (id, number, created_at) of the current versions are read in one statement, their
    specs taken from the cache of versions (only versions not seen yet are read and
    validated), and the set kept under the token read with them: equal tokens, equal
    sets. If a change committed since the caller's read, that newer set is returned."""
    with _lock:
        cached = _current.get(site_id)
    if cached is not None and cached.token == token:
        return cached
    loaded = _current_set(*_current_rows(site_id))
    with _lock:
        if len(_current) >= CURRENT_CACHE_SIZE:
            _current.clear()
        _current[site_id] = loaded
    return loaded


def policy_set_token(*, site_id: int) -> int:
    """The site's policy-set token as this transaction sees it (0: no row yet). A
    hand-written statement: on the offer's path, the ORM's compilation cost more than
    the read."""
    with connection.cursor() as cursor:
        cursor.execute(_token_sql(), [site_id])
        row = cursor.fetchone()
    return row[0] if row else 0


@functools.cache
def _token_sql() -> str:
    # Identifiers from the model's metadata; the only value is a parameter.
    return (
        f"SELECT {sql_column(PolicySetVersion, 'token')} "  # noqa: S608
        f"FROM {sql_table(PolicySetVersion)} WHERE {sql_column(PolicySetVersion, 'site')} = %s"
    )


def policies_changed(*, site_id: int) -> None:
    """Which policy versions of the site are current has just changed in this transaction
    (a new version, a policy deleted): renew the site's policy-set token in the same
    transaction (one upsert, which holds the site's row until the commit, so concurrent
    changes of a site are serialised here). Every reader in every process sees the new
    token once this commits, and never if it rolls back (ADR 0026). Call it after the
    change, never before: a read between the two would keep the old set under the new
    token."""
    token = secrets.randbits(62) + 1  # never 0, the token of a site without a row
    PolicySetVersion.objects.bulk_create(
        [PolicySetVersion(site_id=site_id, token=token)],
        update_conflicts=True,
        unique_fields=["site"],
        update_fields=["token"],
    )
    with _lock:  # this process's copy is stale; spare it the comparison
        _current.pop(site_id, None)


def policy_caches_clear() -> None:
    """Forget everything cached in this process (tests: ids are reused after rollbacks)."""
    with _lock:
        _specs.clear()
        _current.clear()


def _current_rows(site_id: int) -> tuple[int, list[tuple[int, int, datetime]]]:
    """The site's token and (id, number, created_at) of each current version, read in
    one statement (one snapshot: the versions are those of that token)."""
    quote = connection.ops.quote_name
    version, policy, stamp = PolicyVersion._meta, Policy._meta, PolicySetVersion._meta
    # Identifiers from the models' metadata; the only value is a parameter.
    sql = (
        f"SELECT v.{quote('id')}, v.{quote('number')}, v.{quote('created_at')}, "  # noqa: S608
        f"(SELECT s.{quote('token')} FROM {quote(stamp.db_table)} s "
        f"WHERE s.{quote('site_id')} = %s) "
        f"FROM (SELECT 1) one "
        f"LEFT JOIN {quote(policy.db_table)} p ON p.{quote('site_id')} = %s "
        f"LEFT JOIN {quote(version.db_table)} v "
        f"ON v.{quote('id')} = p.{quote('current_version_id')} "
        f"ORDER BY p.{quote('id')}"
    )
    created_at = version.get_field("created_at")
    converters = connection.ops.get_db_converters(created_at.get_col(version.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [site_id, site_id])
        fetched = cursor.fetchall()
    rows = []
    for pk, number, at, _ in fetched:
        if pk is None:
            continue
        for converter in converters:
            at = converter(at, created_at, connection)
        rows.append((pk, number, at))
    return (fetched[0][3] or 0) if fetched else 0, rows


def _current_set(token: int, rows: list[tuple[int, int, datetime]]) -> CurrentPolicies:
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
        token=token,
    )
