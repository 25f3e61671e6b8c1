"""``validate_spec``: the one validator of a policy, used by admin forms and on load.

A raw spec is plain JSON (what ``PolicyVersion.spec`` stores); amounts are decimal
strings in the policy's currency. Returns a ``PolicySpec`` or every error found, each
naming its field path, so that a bad policy never reaches ``evaluate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from .money import MoneyError, is_known_currency, parse_amount
from .types import Conditions, Limits, PolicySpec, RemedyKind, RemedySpec, Segment, Stacking

STAGES = {"cart", "contact", "shipping", "payment"}
STALL_REASONS = {"shipping_shock", "payment_failed", "coupon_rejected", "idle"}
MAX_HOLD_HOURS = 168
COUNTRY_CODE = re.compile(r"[A-Z]{2}")
# A percentage typed as text: ASCII digits and an optional fraction, as for amounts (no
# exponent, no "_", no non-ASCII digits, which Decimal() would all accept).
PERCENT_STRING = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,30})?")


@dataclass(frozen=True, slots=True)
class SpecError:
    field: str
    message: str


class _Collector:
    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(SpecError(field, message))


SPEC_KEYS = frozenset(
    {"name", "currency", "priority", "active", "valid_from", "valid_until"}
    | {"conditions", "remedies", "limits", "stacking"}
)
CONDITION_KEYS = frozenset(f.name for f in fields(Conditions))
REMEDY_KEYS = frozenset(f.name for f in fields(RemedySpec))
LIMIT_KEYS = frozenset(f.name for f in fields(Limits))


def _unknown_keys(
    raw: dict[Any, Any], known: frozenset[str], prefix: str, errors: _Collector
) -> None:
    """A misspelt key would silently drop a condition or limit: refuse every unknown one."""
    for key in raw:
        if key not in known:
            name = key if isinstance(key, str) else f"<{type(key).__name__}>"
            errors.add(f"{prefix}{name}", "Unknown field.")


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw == "")


def _amount(raw: Any, currency: str, field: str, errors: _Collector) -> Decimal | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_amount(raw, currency)
    except MoneyError as exc:
        errors.add(field, str(exc))
        return None


def _percent(raw: Any, field: str, errors: _Collector) -> Decimal | None:
    if raw is None or raw == "":
        return None
    value: Decimal | None = None
    if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        value = Decimal(raw)  # not via str(): a huge int has no str() (int_max_str_digits)
    elif isinstance(raw, str) and PERCENT_STRING.fullmatch(raw.strip()):
        value = Decimal(raw.strip())
    elif isinstance(raw, float):
        value = Decimal(str(raw))  # a JSON number: its shortest repr, not its binary value
    if value is None or not value.is_finite() or value <= 0 or value > 100:
        errors.add(field, "Enter a percentage above 0 and at most 100.")
        return None
    return value


def _positive_int(raw: Any, field: str, errors: _Collector, *, maximum: int) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1 or raw > maximum:
        errors.add(field, f"Enter a whole number from 1 to {maximum}.")
        return None
    return raw


def _strings(
    raw: Any, field: str, errors: _Collector, allowed: set[str] | None = None
) -> frozenset[str]:
    if raw in (None, ""):
        return frozenset()
    if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
        errors.add(field, "Enter a list of values.")
        return frozenset()
    values = frozenset(v.strip() for v in raw if v.strip())
    if allowed is not None:
        unknown = sorted(values - allowed)
        if unknown:
            errors.add(field, f"Unknown value(s): {', '.join(unknown)}.")
    return values


def _datetime(raw: Any, field: str, errors: _Collector) -> datetime | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            errors.add(field, "Enter an ISO 8601 date and time.")
            return None
    else:
        errors.add(field, "Enter an ISO 8601 date and time.")
        return None
    if moment.tzinfo is None:
        errors.add(field, "Include a time zone.")
        return None
    return moment


def validate_spec(
    raw: Any, *, version_id: int = 0, policy_id: int = 0
) -> PolicySpec | list[SpecError]:
    """Check every rule of a policy and build its ``PolicySpec``.

    Rules: a known currency; amounts exact and non-negative in it; minimum not above
    maximum; percentages in (0, 100]; valid-from before valid-until; known stages, stall
    reasons and segments; two-letter country codes; nothing both included and excluded;
    at least one remedy, each kind once; reduce/discount bounded by a percentage or an
    amount; waiving capped by an amount only; a gift has a SKU and a value; holding stock
    has 1–168 hours; remedy caps, budgets and per-offer/agent caps above zero; the daily
    budget not above the monthly one; no unknown keys (a misspelt one would drop a rule).
    """
    errors = _Collector()
    if not isinstance(raw, dict):
        return [SpecError("", "A policy spec is an object.")]
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.add("name", "Give the policy a name.")
        name = ""
    currency = raw.get("currency")
    if not isinstance(currency, str) or not is_known_currency(currency):
        errors.add("currency", "Use an ISO 4217 currency code such as EUR.")
        return errors.errors
    _unknown_keys(raw, SPEC_KEYS, "", errors)
    priority = raw.get("priority", 100)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 10_000:
        errors.add("priority", "Enter a whole number from 0 to 10000.")
        priority = 100
    active = raw.get("active", True)
    if not isinstance(active, bool):
        errors.add("active", "Enter true or false.")
        active = False
    valid_from = _datetime(raw.get("valid_from"), "valid_from", errors)
    valid_until = _datetime(raw.get("valid_until"), "valid_until", errors)
    if valid_from and valid_until and valid_from >= valid_until:
        errors.add("valid_until", "Must be after valid from.")

    cond_raw = raw.get("conditions")
    if cond_raw is None:
        cond_raw = {}
    if not isinstance(cond_raw, dict):
        errors.add("conditions", "Enter an object.")
        cond_raw = {}
    _unknown_keys(cond_raw, CONDITION_KEYS, "conditions.", errors)
    min_value = _amount(
        cond_raw.get("min_cart_value"), currency, "conditions.min_cart_value", errors
    )
    max_value = _amount(
        cond_raw.get("max_cart_value"), currency, "conditions.max_cart_value", errors
    )
    if min_value is not None and max_value is not None and min_value > max_value:
        errors.add("conditions.max_cart_value", "The maximum cart value is below the minimum.")
    segments_raw = _strings(
        cond_raw.get("segments"), "conditions.segments", errors, {s.value for s in Segment}
    )
    conditions = Conditions(
        min_cart_value=min_value,
        max_cart_value=max_value,
        stages=_strings(cond_raw.get("stages"), "conditions.stages", errors, STAGES),
        stall_reasons=_strings(
            cond_raw.get("stall_reasons"), "conditions.stall_reasons", errors, STALL_REASONS
        ),
        segments=frozenset(Segment(s) for s in segments_raw if s in {x.value for x in Segment}),
        countries=frozenset(
            c.upper() for c in _strings(cond_raw.get("countries"), "conditions.countries", errors)
        ),
        include_categories=_strings(
            cond_raw.get("include_categories"), "conditions.include_categories", errors
        ),
        exclude_categories=_strings(
            cond_raw.get("exclude_categories"), "conditions.exclude_categories", errors
        ),
        include_skus=_strings(cond_raw.get("include_skus"), "conditions.include_skus", errors),
        exclude_skus=_strings(cond_raw.get("exclude_skus"), "conditions.exclude_skus", errors),
        min_delivery_charge=_amount(
            cond_raw.get("min_delivery_charge"), currency, "conditions.min_delivery_charge", errors
        ),
    )
    bad_countries = sorted(c for c in conditions.countries if not COUNTRY_CODE.fullmatch(c))
    if bad_countries:
        errors.add(
            "conditions.countries",
            f"Use two-letter ISO 3166 country codes: {', '.join(bad_countries)}.",
        )
    for include, exclude, key in (
        (conditions.include_categories, conditions.exclude_categories, "exclude_categories"),
        (conditions.include_skus, conditions.exclude_skus, "exclude_skus"),
    ):
        overlap = include & exclude
        if overlap:
            errors.add(
                f"conditions.{key}", f"Both included and excluded: {', '.join(sorted(overlap))}."
            )

    remedies: list[RemedySpec] = []
    remedies_raw = raw.get("remedies")
    if not isinstance(remedies_raw, list) or not remedies_raw:
        errors.add("remedies", "Allow at least one remedy.")
        remedies_raw = []
    seen: set[RemedyKind] = set()
    for index, item in enumerate(remedies_raw):
        path = f"remedies.{index}"
        if not isinstance(item, dict):
            errors.add(path, "Enter an object.")
            continue
        _unknown_keys(item, REMEDY_KEYS, f"{path}.", errors)
        kind_raw = item.get("kind")
        try:
            kind = RemedyKind(kind_raw)
        except ValueError:
            # repr() only of what is short and safe to show (a huge int has no repr)
            shown = repr(kind_raw) if kind_raw is None or isinstance(kind_raw, str) else "value"
            errors.add(f"{path}.kind", f"Unknown remedy {shown[:40]}.")
            continue
        if kind in seen:
            errors.add(f"{path}.kind", "Each remedy may appear once per policy.")
            continue
        seen.add(kind)
        percent = _percent(item.get("max_percent"), f"{path}.max_percent", errors)
        amount = _amount(item.get("max_amount"), currency, f"{path}.max_amount", errors)
        if amount == 0:
            errors.add(f"{path}.max_amount", "Must be above zero (leave empty for no limit).")
        remedy = RemedySpec(kind=kind, max_percent=percent, max_amount=amount)
        if kind in (RemedyKind.REDUCE_DELIVERY, RemedyKind.DISCOUNT) and all(
            _is_empty(item.get(key)) for key in ("max_percent", "max_amount")
        ):  # (an invalid bound has its own error already)
            errors.add(path, "Bound it by a maximum percentage, a maximum amount, or both.")
        if kind is RemedyKind.WAIVE_DELIVERY and percent is not None:
            errors.add(f"{path}.max_percent", "Waiving takes a cap amount, not a percentage.")
        if kind is RemedyKind.FREE_GIFT:
            sku = item.get("gift_sku")
            value = _amount(item.get("gift_value"), currency, f"{path}.gift_value", errors)
            if not isinstance(sku, str) or not sku.strip():
                errors.add(f"{path}.gift_sku", "Name the gift's SKU.")
                sku = ""
            if _is_empty(item.get("gift_value")):
                errors.add(
                    f"{path}.gift_value", "Enter what the gift costs (counted against budgets)."
                )
            remedy = RemedySpec(kind=kind, gift_sku=sku.strip(), gift_value=value)
        if kind is RemedyKind.HOLD_STOCK:
            hours = _positive_int(
                item.get("hold_hours"), f"{path}.hold_hours", errors, maximum=MAX_HOLD_HOURS
            )
            if hours is None and item.get("hold_hours") in (None, ""):
                errors.add(f"{path}.hold_hours", f"Enter how many hours (1–{MAX_HOLD_HOURS}).")
            remedy = RemedySpec(kind=kind, hold_hours=hours)
        remedies.append(remedy)

    limits_raw = raw.get("limits")
    if limits_raw is None:
        limits_raw = {}
    if not isinstance(limits_raw, dict):
        errors.add("limits", "Enter an object.")
        limits_raw = {}
    _unknown_keys(limits_raw, LIMIT_KEYS, "limits.", errors)
    limit_amounts = {}
    for key in (
        "max_per_offer",
        "daily_budget",
        "monthly_budget",
        "per_agent_daily_cap",
        "approval_above",
    ):
        value = _amount(limits_raw.get(key), currency, f"limits.{key}", errors)
        if value is not None and value == 0 and key != "approval_above":
            errors.add(f"limits.{key}", "Must be above zero (leave empty for no limit).")
        limit_amounts[key] = value
    daily, monthly = limit_amounts["daily_budget"], limit_amounts["monthly_budget"]
    if daily is not None and monthly is not None and daily > monthly:
        errors.add("limits.daily_budget", "The daily budget is above the monthly budget.")
    limits = Limits(
        once_per_customer_days=_positive_int(
            limits_raw.get("once_per_customer_days"),
            "limits.once_per_customer_days",
            errors,
            maximum=3650,
        ),
        **limit_amounts,
    )
    try:
        stacking = Stacking(raw.get("stacking", "combinable"))
    except ValueError:
        errors.add("stacking", "Choose exclusive or combinable.")
        stacking = Stacking.COMBINABLE

    if errors.errors:
        return errors.errors
    return PolicySpec(
        version_id=version_id,
        policy_id=policy_id,
        name=name.strip(),
        currency=currency,
        priority=priority,
        active=active,
        valid_from=valid_from,
        valid_until=valid_until,
        conditions=conditions,
        remedies=tuple(remedies),
        limits=limits,
        stacking=stacking,
    )
