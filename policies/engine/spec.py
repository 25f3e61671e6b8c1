"""``validate_spec``: the one validator of a policy, used by admin forms and on load.

A raw spec is plain JSON (what ``PolicyVersion.spec`` stores); amounts are decimal
strings in the policy's currency. Returns a ``PolicySpec`` or every error found, each
naming its field path, so that a bad policy never reaches ``evaluate``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from .money import MoneyError, is_known_currency, parse_amount
from .types import Conditions, Limits, PolicySpec, RemedyKind, RemedySpec, Segment, Stacking

STAGES = {"cart", "contact", "shipping", "payment"}
STALL_REASONS = {"shipping_shock", "payment_failed", "coupon_rejected", "idle"}
SEGMENTS = {s.value for s in Segment}
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


def _section(raw: dict[Any, Any], key: str, errors: _Collector) -> dict[Any, Any]:
    """A nested object of the spec (``conditions``, ``limits``); absent means empty."""
    section = raw.get(key)
    if section is None:
        return {}
    if not isinstance(section, dict):
        errors.add(key, "Enter an object.")
        return {}
    return section


# --- the header: name, priority, switch, validity window, stacking ----------------------


def _name(raw: dict[Any, Any], errors: _Collector) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.add("name", "Give the policy a name.")
        return ""
    return name.strip()


def _currency(raw: dict[Any, Any], errors: _Collector) -> str | None:
    currency = raw.get("currency")
    if not isinstance(currency, str) or not is_known_currency(currency):
        errors.add("currency", "Use an ISO 4217 currency code such as EUR.")
        return None
    return currency


def _priority(raw: dict[Any, Any], errors: _Collector) -> int:
    priority = raw.get("priority", 100)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 10_000:
        errors.add("priority", "Enter a whole number from 0 to 10000.")
        return 100
    return priority


def _active(raw: dict[Any, Any], errors: _Collector) -> bool:
    active = raw.get("active", True)
    if not isinstance(active, bool):
        errors.add("active", "Enter true or false.")
        return False
    return active


def _validity(raw: dict[Any, Any], errors: _Collector) -> tuple[datetime | None, datetime | None]:
    valid_from = _datetime(raw.get("valid_from"), "valid_from", errors)
    valid_until = _datetime(raw.get("valid_until"), "valid_until", errors)
    if valid_from and valid_until and valid_from >= valid_until:
        errors.add("valid_until", "Must be after valid from.")
    return valid_from, valid_until


def _stacking(raw: dict[Any, Any], errors: _Collector) -> Stacking:
    try:
        return Stacking(raw.get("stacking", "combinable"))
    except ValueError:
        errors.add("stacking", "Choose exclusive or combinable.")
        return Stacking.COMBINABLE


# --- conditions ---------------------------------------------------------------------


def _conditions(raw: dict[Any, Any], currency: str, errors: _Collector) -> Conditions:
    """Amounts exact in the currency, minimum not above maximum; known stages, stall
    reasons and segments; two-letter country codes; nothing both included and excluded."""
    _unknown_keys(raw, CONDITION_KEYS, "conditions.", errors)

    def amount(key: str) -> Decimal | None:
        return _amount(raw.get(key), currency, f"conditions.{key}", errors)

    def strings(key: str, allowed: set[str] | None = None) -> frozenset[str]:
        return _strings(raw.get(key), f"conditions.{key}", errors, allowed)

    min_value, max_value = amount("min_cart_value"), amount("max_cart_value")
    if min_value is not None and max_value is not None and min_value > max_value:
        errors.add("conditions.max_cart_value", "The maximum cart value is below the minimum.")
    segments = strings("segments", SEGMENTS)
    conditions = Conditions(
        min_cart_value=min_value,
        max_cart_value=max_value,
        stages=strings("stages", STAGES),
        stall_reasons=strings("stall_reasons", STALL_REASONS),
        segments=frozenset(Segment(s) for s in segments if s in SEGMENTS),
        countries=frozenset(c.upper() for c in strings("countries")),
        include_categories=strings("include_categories"),
        exclude_categories=strings("exclude_categories"),
        include_skus=strings("include_skus"),
        exclude_skus=strings("exclude_skus"),
        min_delivery_charge=amount("min_delivery_charge"),
    )
    _check_countries(conditions, errors)
    _check_overlaps(conditions, errors)
    return conditions


def _check_countries(conditions: Conditions, errors: _Collector) -> None:
    bad_countries = sorted(c for c in conditions.countries if not COUNTRY_CODE.fullmatch(c))
    if bad_countries:
        errors.add(
            "conditions.countries",
            f"Use two-letter ISO 3166 country codes: {', '.join(bad_countries)}.",
        )


def _check_overlaps(conditions: Conditions, errors: _Collector) -> None:
    for include, exclude, key in (
        (conditions.include_categories, conditions.exclude_categories, "exclude_categories"),
        (conditions.include_skus, conditions.exclude_skus, "exclude_skus"),
    ):
        overlap = include & exclude
        if overlap:
            errors.add(
                f"conditions.{key}", f"Both included and excluded: {', '.join(sorted(overlap))}."
            )


# --- remedies: the bound every kind shares, then one check per kind -------------------


@dataclass(frozen=True, slots=True)
class _RemedyDraft:
    """One remedy item with its kind known and its shared bounds parsed."""

    kind: RemedyKind
    item: dict[Any, Any]
    path: str
    currency: str
    max_percent: Decimal | None
    max_amount: Decimal | None


def _remedies(raw: Any, currency: str, errors: _Collector) -> tuple[RemedySpec, ...]:
    """At least one remedy, each kind once, each valid for its kind."""
    if not isinstance(raw, list) or not raw:
        errors.add("remedies", "Allow at least one remedy.")
        return ()
    remedies: list[RemedySpec] = []
    seen: set[RemedyKind] = set()
    for index, item in enumerate(raw):
        draft = _remedy_draft(item, f"remedies.{index}", currency, seen, errors)
        if draft is not None:
            remedies.append(REMEDY_CHECKS[draft.kind](draft, errors))
    return tuple(remedies)


def _remedy_draft(
    item: Any, path: str, currency: str, seen: set[RemedyKind], errors: _Collector
) -> _RemedyDraft | None:
    """An object of a known kind not seen before, with its percentage and amount parsed
    (every kind's amount cap is above zero); None when it cannot be checked further."""
    if not isinstance(item, dict):
        errors.add(path, "Enter an object.")
        return None
    _unknown_keys(item, REMEDY_KEYS, f"{path}.", errors)
    kind = _remedy_kind(item.get("kind"), path, seen, errors)
    if kind is None:
        return None
    percent = _percent(item.get("max_percent"), f"{path}.max_percent", errors)
    amount = _amount(item.get("max_amount"), currency, f"{path}.max_amount", errors)
    if amount == 0:
        errors.add(f"{path}.max_amount", "Must be above zero (leave empty for no limit).")
    return _RemedyDraft(kind, item, path, currency, percent, amount)


def _remedy_kind(
    raw: Any, path: str, seen: set[RemedyKind], errors: _Collector
) -> RemedyKind | None:
    try:
        kind = RemedyKind(raw)
    except ValueError:
        # repr() only of what is short and safe to show (a huge int has no repr)
        shown = repr(raw) if raw is None or isinstance(raw, str) else "value"
        errors.add(f"{path}.kind", f"Unknown remedy {shown[:40]}.")
        return None
    if kind in seen:
        errors.add(f"{path}.kind", "Each remedy may appear once per policy.")
        return None
    seen.add(kind)
    return kind


def _bounded_remedy(draft: _RemedyDraft, errors: _Collector) -> RemedySpec:
    """Reduce delivery, discount: a percentage, an amount, or both."""
    if all(_is_empty(draft.item.get(key)) for key in ("max_percent", "max_amount")):
        # (an invalid bound has its own error already)
        errors.add(draft.path, "Bound it by a maximum percentage, a maximum amount, or both.")
    return RemedySpec(kind=draft.kind, max_percent=draft.max_percent, max_amount=draft.max_amount)


def _waive_remedy(draft: _RemedyDraft, errors: _Collector) -> RemedySpec:
    """Waive delivery: capped by an amount only."""
    if draft.max_percent is not None:
        errors.add(f"{draft.path}.max_percent", "Waiving takes a cap amount, not a percentage.")
    return RemedySpec(kind=draft.kind, max_percent=draft.max_percent, max_amount=draft.max_amount)


def _gift_remedy(draft: _RemedyDraft, errors: _Collector) -> RemedySpec:
    """Free gift: a SKU and what it costs (counted against budgets)."""
    path, item = draft.path, draft.item
    value = _amount(item.get("gift_value"), draft.currency, f"{path}.gift_value", errors)
    sku = item.get("gift_sku")
    if not isinstance(sku, str) or not sku.strip():
        errors.add(f"{path}.gift_sku", "Name the gift's SKU.")
        sku = ""
    if _is_empty(item.get("gift_value")):
        errors.add(f"{path}.gift_value", "Enter what the gift costs (counted against budgets).")
    return RemedySpec(kind=draft.kind, gift_sku=sku.strip(), gift_value=value)


def _hold_remedy(draft: _RemedyDraft, errors: _Collector) -> RemedySpec:
    """Hold stock: 1 to MAX_HOLD_HOURS hours."""
    raw, field = draft.item.get("hold_hours"), f"{draft.path}.hold_hours"
    hours = _positive_int(raw, field, errors, maximum=MAX_HOLD_HOURS)
    if hours is None and raw in (None, ""):
        errors.add(field, f"Enter how many hours (1–{MAX_HOLD_HOURS}).")
    return RemedySpec(kind=draft.kind, hold_hours=hours)


REMEDY_CHECKS: dict[RemedyKind, Callable[[_RemedyDraft, _Collector], RemedySpec]] = {
    RemedyKind.WAIVE_DELIVERY: _waive_remedy,
    RemedyKind.REDUCE_DELIVERY: _bounded_remedy,
    RemedyKind.DISCOUNT: _bounded_remedy,
    RemedyKind.FREE_GIFT: _gift_remedy,
    RemedyKind.HOLD_STOCK: _hold_remedy,
}


# --- limits -------------------------------------------------------------------------


def _limits(raw: dict[Any, Any], currency: str, errors: _Collector) -> Limits:
    """Caps and budgets above zero (the approval threshold may be 0: always), the daily
    budget not above the monthly one, a whole number of days between grants."""
    _unknown_keys(raw, LIMIT_KEYS, "limits.", errors)

    def amount(key: str) -> Decimal | None:
        value = _amount(raw.get(key), currency, f"limits.{key}", errors)
        if value is not None and value == 0 and key != "approval_above":
            errors.add(f"limits.{key}", "Must be above zero (leave empty for no limit).")
        return value

    max_per_offer, daily, monthly = (
        amount("max_per_offer"),
        amount("daily_budget"),
        amount("monthly_budget"),
    )
    per_agent, approval = amount("per_agent_daily_cap"), amount("approval_above")
    if daily is not None and monthly is not None and daily > monthly:
        errors.add("limits.daily_budget", "The daily budget is above the monthly budget.")
    days = _positive_int(
        raw.get("once_per_customer_days"), "limits.once_per_customer_days", errors, maximum=3650
    )
    return Limits(
        max_per_offer=max_per_offer,
        daily_budget=daily,
        monthly_budget=monthly,
        per_agent_daily_cap=per_agent,
        once_per_customer_days=days,
        approval_above=approval,
    )


# --- the whole spec -----------------------------------------------------------------


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

    1. The header: name and currency (without a known currency no amount can be checked,
       so that error comes alone), unknown top-level keys, priority, switch, validity.
    2. Each section in turn, every error collected: conditions, remedies, limits,
       stacking.
    """
    if not isinstance(raw, dict):
        return [SpecError("", "A policy spec is an object.")]
    errors = _Collector()
    name = _name(raw, errors)
    currency = _currency(raw, errors)
    if currency is None:
        return errors.errors
    _unknown_keys(raw, SPEC_KEYS, "", errors)
    priority = _priority(raw, errors)
    active = _active(raw, errors)
    valid_from, valid_until = _validity(raw, errors)
    conditions = _conditions(_section(raw, "conditions", errors), currency, errors)
    remedies = _remedies(raw.get("remedies"), currency, errors)
    limits = _limits(_section(raw, "limits", errors), currency, errors)
    stacking = _stacking(raw, errors)
    if errors.errors:
        return errors.errors
    return PolicySpec(
        version_id=version_id,
        policy_id=policy_id,
        name=name,
        currency=currency,
        priority=priority,
        active=active,
        valid_from=valid_from,
        valid_until=valid_until,
        conditions=conditions,
        remedies=remedies,
        limits=limits,
        stacking=stacking,
    )
