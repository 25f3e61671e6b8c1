"""What changed between two versions of a policy, in plain words (docs/POLICIES.md,
"Versions").

``spec_diff(old, new)`` compares two validated ``PolicySpec`` and returns one
``SpecChange`` per rule that differs: a header field, a condition, a limit, a remedy
allowed or no longer allowed, or one bound of a remedy. Each change carries the raw
values (``before``/``after``) and the same values formatted for a merchandiser (money in
the currency's minor units, percentages, lists, "any"/"none"), so the admin can say
"Daily budget: 100.00 EUR → 150.00 EUR" instead of showing JSON.

``spec_apply(spec, changes)`` replays changes on a spec; ``spec_apply(a, spec_diff(a,
b))`` has every rule of ``b`` (the property tests check it), so no changed field can be
left out of the report. Pure, standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import TypeVar

from .money import CURRENCY_EXPONENTS, Money
from .types import Conditions, Limits, PolicySpec, RemedyKind, RemedySpec, Segment, Stacking

# Sections of a policy, in the order a change report lists them.
POLICY, CONDITIONS, REMEDIES, LIMITS = "policy", "conditions", "remedies", "limits"

HEADER_LABELS = {
    "name": "Name",
    "currency": "Currency",
    "active": "Switched on",
    "priority": "Priority",
    "valid_from": "Valid from",
    "valid_until": "Valid until",
    "stacking": "Stacking",
}
CONDITION_LABELS = {
    "min_cart_value": "Minimum cart value",
    "max_cart_value": "Maximum cart value",
    "stages": "Checkout stages",
    "stall_reasons": "Stall reasons",
    "segments": "Shoppers",
    "countries": "Shipping countries",
    "include_categories": "Only carts with categories",
    "exclude_categories": "Never carts with categories",
    "include_skus": "Only carts with SKUs",
    "exclude_skus": "Never carts with SKUs",
    "min_delivery_charge": "Minimum delivery charge",
}
LIMIT_LABELS = {
    "max_per_offer": "Maximum per offer",
    "daily_budget": "Daily budget",
    "monthly_budget": "Monthly budget",
    "per_agent_daily_cap": "Per agent per day",
    "once_per_customer_days": "One grant per customer every",
    "approval_above": "Supervisor approval above",
}
REMEDY_LABELS = {
    RemedyKind.WAIVE_DELIVERY: "Waive the delivery charge",
    RemedyKind.REDUCE_DELIVERY: "Reduce the delivery charge",
    RemedyKind.DISCOUNT: "Discount on the cart",
    RemedyKind.FREE_GIFT: "Free gift",
    RemedyKind.HOLD_STOCK: "Hold stock",
}
REMEDY_PART_LABELS = {
    "max_percent": "at most (percentage)",
    "max_amount": "at most (amount)",
    "gift_sku": "gift SKU",
    "gift_value": "gift value",
    "hold_hours": "for",
}
STACKING_WORDS = {
    Stacking.COMBINABLE: "combinable with other remedies",
    Stacking.EXCLUSIVE: "exclusive (no other remedy on the cart)",
}
STALL_REASON_WORDS = {
    "shipping_shock": "shipping shock",
    "payment_failed": "payment failed",
    "coupon_rejected": "coupon rejected",
    "idle": "idle",
}
# Empty means "any" for a condition, "no limit" for a limit or bound.
ANY, NO_LIMIT = "any", "no limit"

Value = object
_Section = TypeVar("_Section", Conditions, Limits)


@dataclass(frozen=True, slots=True)
class SpecChange:
    """One rule that differs: ``section`` and ``field`` name it (a remedy's bound is
    ``"<kind>.<part>"``, the remedy itself ``"<kind>"``), ``before``/``after`` are the
    engine's values (``None`` for a remedy: not allowed), ``old``/``new`` the words."""

    section: str
    field: str
    label: str
    before: Value
    after: Value
    old: str
    new: str

    def sentence(self) -> str:
        """E.g. "Daily budget: 100.00 EUR → 150.00 EUR"."""
        return f"{self.label}: {self.old} → {self.new}"


# --- formatting ---------------------------------------------------------------------


def format_money(amount: Decimal | None, currency: str, *, empty: str = NO_LIMIT) -> str:
    """``9.90 EUR``, ``990 JPY``: the currency's minor units, never the storage's."""
    if amount is None:
        return empty
    if currency not in CURRENCY_EXPONENTS:
        return f"{amount.normalize():f} {currency}".strip()
    return str(Money(amount, currency))


def format_percent(value: Decimal | None) -> str:
    if value is None:
        return NO_LIMIT
    text = f"{value.normalize():f}"
    return f"{text} %"


def _format_moment(value: datetime | None, tz: tzinfo | None) -> str:
    if value is None:
        return "no date"
    local = value.astimezone(tz) if tz is not None else value
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


def _word(value: object) -> str:
    if isinstance(value, Segment):
        return value.value
    text = str(value)
    return STALL_REASON_WORDS.get(text, text)


def _format_set(values: frozenset[object]) -> str:
    return ", ".join(sorted(_word(v) for v in values)) if values else ANY


def _format_days(days: int | None) -> str:
    if days is None:
        return NO_LIMIT
    return "1 day" if days == 1 else f"{days} days"


def _format_header(field: str, value: Value, tz: tzinfo | None) -> str:
    if field == "active":
        return "yes" if value else "no"
    if field == "stacking" and isinstance(value, Stacking):
        return STACKING_WORDS[value]
    if isinstance(value, datetime) or value is None:
        return _format_moment(value, tz)
    return str(value)


def _format_condition(field: str, value: Value, currency: str) -> str:
    if isinstance(value, frozenset):
        return _format_set(value)
    if isinstance(value, Decimal) or value is None:
        return format_money(value, currency, empty=ANY)
    return str(value)  # pragma: no cover - every condition is a set or an amount


def _format_limit(field: str, value: Value, currency: str) -> str:
    if field == "once_per_customer_days":
        return _format_days(value if isinstance(value, int) else None)
    if field == "approval_above" and value is None:
        return "never"
    return format_money(value if isinstance(value, Decimal) else None, currency)


def _format_remedy_part(part: str, value: Value, currency: str) -> str:
    if part == "max_percent":
        return format_percent(value if isinstance(value, Decimal) else None)
    if part == "hold_hours":  # 1–168 in every valid spec
        return "1 hour" if value == 1 else f"{value} hours"
    if part == "gift_sku":
        return str(value) if value else "none"
    if part == "gift_value":
        return format_money(value if isinstance(value, Decimal) else None, currency, empty="none")
    # max_amount: for waiving, no cap means the whole charge
    return format_money(value if isinstance(value, Decimal) else None, currency)


def describe_remedy(remedy: RemedySpec | None, currency: str) -> str:
    """What a remedy allows, in a few words: "allowed, at most 10 % or 5.00 EUR"."""
    if remedy is None:
        return "not allowed"
    kind = remedy.kind
    if kind is RemedyKind.WAIVE_DELIVERY:
        if remedy.max_amount is None:
            return "allowed, the whole charge"
        return f"allowed, at most {format_money(remedy.max_amount, currency)}"
    if kind in (RemedyKind.REDUCE_DELIVERY, RemedyKind.DISCOUNT):
        bounds = []
        if remedy.max_percent is not None:
            bounds.append(format_percent(remedy.max_percent))
        if remedy.max_amount is not None:
            bounds.append(format_money(remedy.max_amount, currency))
        return "allowed, at most " + " or ".join(bounds) if bounds else "allowed"
    if kind is RemedyKind.FREE_GIFT:
        value = format_money(remedy.gift_value, currency, empty="no value")
        return f"allowed, {remedy.gift_sku or 'no SKU'} worth {value}"
    return f"allowed, for {_format_remedy_part('hold_hours', remedy.hold_hours, currency)}"


# --- the diff -----------------------------------------------------------------------


def _field_changes(
    section: str,
    labels: dict[str, str],
    old: object,
    new: object,
    fmt_old: object,
    fmt_new: object,
) -> list[SpecChange]:
    changes = []
    for field, label in labels.items():
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            changes.append(
                SpecChange(
                    section, field, label, before, after,
                    fmt_old(field, before),  # type: ignore[operator]
                    fmt_new(field, after),  # type: ignore[operator]
                )
            )  # fmt: skip
    return changes


def _remedy_changes(old: PolicySpec, new: PolicySpec) -> list[SpecChange]:
    before = {r.kind: r for r in old.remedies}
    after = {r.kind: r for r in new.remedies}
    changes = []
    for kind, label in REMEDY_LABELS.items():
        was, now = before.get(kind), after.get(kind)
        if was == now:
            continue
        if was is None or now is None:
            changes.append(
                SpecChange(
                    REMEDIES, kind.value, label, was, now,
                    describe_remedy(was, old.currency), describe_remedy(now, new.currency),
                )
            )  # fmt: skip
            continue
        for part, part_label in REMEDY_PART_LABELS.items():
            a, b = getattr(was, part), getattr(now, part)
            if a != b:
                changes.append(
                    SpecChange(
                        REMEDIES, f"{kind.value}.{part}", f"{label}, {part_label}", a, b,
                        _format_remedy_part(part, a, old.currency),
                        _format_remedy_part(part, b, new.currency),
                    )
                )  # fmt: skip
    return changes


def spec_diff(old: PolicySpec, new: PolicySpec, *, tz: tzinfo | None = None) -> list[SpecChange]:
    """Every rule that differs from ``old`` to ``new``, in report order.

    1. The header: name, currency, switch, priority, validity (times in ``tz``), stacking.
    2. Each condition, then each remedy by kind: allowed or no longer allowed as a whole,
       else each bound that changed.
    3. Each limit.
    The version and policy ids are not rules and are not compared.
    """

    def header(field: str, value: Value) -> str:
        return _format_header(field, value, tz)

    return [
        *_field_changes(POLICY, HEADER_LABELS, old, new, header, header),
        *_field_changes(
            CONDITIONS, CONDITION_LABELS, old.conditions, new.conditions,
            lambda f, v: _format_condition(f, v, old.currency),
            lambda f, v: _format_condition(f, v, new.currency),
        ),
        *_remedy_changes(old, new),
        *_field_changes(
            LIMITS, LIMIT_LABELS, old.limits, new.limits,
            lambda f, v: _format_limit(f, v, old.currency),
            lambda f, v: _format_limit(f, v, new.currency),
        ),
    ]  # fmt: skip


def spec_apply(spec: PolicySpec, changes: Iterable[SpecChange]) -> PolicySpec:
    """``spec`` with each change's ``after`` value in place (remedies keep the order of
    ``RemedyKind``). ``spec_apply(a, spec_diff(a, b))`` equals ``b`` in every rule."""
    header: dict[str, Value] = {}
    conditions: dict[str, Value] = {}
    limits: dict[str, Value] = {}
    remedies: dict[RemedyKind, RemedySpec | None] = {r.kind: r for r in spec.remedies}
    for change in changes:
        if change.section == POLICY:
            header[change.field] = change.after
        elif change.section == CONDITIONS:
            conditions[change.field] = change.after
        elif change.section == LIMITS:
            limits[change.field] = change.after
        else:
            _apply_remedy(remedies, change)
    return dataclasses.replace(
        spec,
        **header,  # type: ignore[arg-type]
        conditions=_replace(spec.conditions, conditions),
        limits=_replace(spec.limits, limits),
        remedies=tuple(r for kind in RemedyKind if (r := remedies.get(kind)) is not None),
    )


def _replace(value: _Section, changes: dict[str, Value]) -> _Section:
    return dataclasses.replace(value, **changes) if changes else value  # type: ignore[arg-type]


def _apply_remedy(remedies: dict[RemedyKind, RemedySpec | None], change: SpecChange) -> None:
    kind_value, _, part = change.field.partition(".")
    kind = RemedyKind(kind_value)
    if not part:
        remedies[kind] = change.after if isinstance(change.after, RemedySpec) else None
        return
    current = remedies.get(kind) or RemedySpec(kind)
    remedies[kind] = dataclasses.replace(current, **{part: change.after})  # type: ignore[arg-type]
