"""The only bridge between Policy rows and the engine's PolicySpec (both directions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import F

from policies.engine import PolicySpec, SpecError, validate_spec
from policies.models import Policy, PolicyVersion


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


def current_versions(*, site_id: int) -> list[PolicyVersion]:
    """The current version of every policy of the site (inactive ones too)."""
    return list(
        PolicyVersion.objects.filter(policy__site_id=site_id, policy__current_version=F("pk"))
    )


def current_specs(*, site_id: int) -> list[PolicySpec]:
    """The current version of every policy of the site (inactive ones too: the engine
    reports them as "switched off", which is a useful reason to show)."""
    return [spec_of(v) for v in current_versions(site_id=site_id)]
