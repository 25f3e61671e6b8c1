"""``validate_spec``: every rule names its field; a valid spec round-trips; garbage never
raises. No database."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.engine import (
    Conditions,
    Limits,
    PolicySpec,
    RemedyKind,
    RemedySpec,
    Segment,
    SpecError,
    Stacking,
    validate_spec,
)

VALID: dict[str, Any] = {
    "name": "  Delivery rescue ",
    "currency": "EUR",
    "priority": 20,
    "active": True,
    "valid_from": "2026-03-01T00:00:00+01:00",
    "valid_until": "2026-04-01T00:00:00+02:00",
    "conditions": {
        "min_cart_value": "50.00",
        "max_cart_value": "500",
        "stages": ["shipping", "payment"],
        "stall_reasons": ["shipping_shock"],
        "segments": ["new", "returning"],
        "countries": ["de", " AT "],
        "include_categories": ["shoes"],
        "exclude_categories": ["gift-cards"],
        "include_skus": ["SKU-1"],
        "exclude_skus": ["SKU-9"],
        "min_delivery_charge": "4.90",
    },
    "remedies": [
        {"kind": "waive_delivery", "max_amount": "10.00"},
        {"kind": "reduce_delivery", "max_percent": "50"},
        {"kind": "discount", "max_percent": 10, "max_amount": "15.00"},
        {"kind": "free_gift", "gift_sku": " GIFT-SOCKS ", "gift_value": "4.00"},
        {"kind": "hold_stock", "hold_hours": 24},
    ],
    "limits": {
        "max_per_offer": "20.00",
        "daily_budget": "200.00",
        "monthly_budget": "2000.00",
        "per_agent_daily_cap": "50.00",
        "once_per_customer_days": 30,
        "approval_above": "0",
    },
    "stacking": "exclusive",
}

EXPECTED = PolicySpec(
    version_id=7,
    policy_id=3,
    name="Delivery rescue",
    currency="EUR",
    priority=20,
    active=True,
    valid_from=datetime(2026, 2, 28, 23, 0, tzinfo=UTC),
    valid_until=datetime(2026, 3, 31, 22, 0, tzinfo=UTC),
    conditions=Conditions(
        min_cart_value=Decimal("50.00"),
        max_cart_value=Decimal("500.00"),
        stages=frozenset({"shipping", "payment"}),
        stall_reasons=frozenset({"shipping_shock"}),
        segments=frozenset({Segment.NEW, Segment.RETURNING}),
        countries=frozenset({"DE", "AT"}),
        include_categories=frozenset({"shoes"}),
        exclude_categories=frozenset({"gift-cards"}),
        include_skus=frozenset({"SKU-1"}),
        exclude_skus=frozenset({"SKU-9"}),
        min_delivery_charge=Decimal("4.90"),
    ),
    remedies=(
        RemedySpec(RemedyKind.WAIVE_DELIVERY, max_amount=Decimal("10.00")),
        RemedySpec(RemedyKind.REDUCE_DELIVERY, max_percent=Decimal(50)),
        RemedySpec(RemedyKind.DISCOUNT, max_percent=Decimal(10), max_amount=Decimal("15.00")),
        RemedySpec(RemedyKind.FREE_GIFT, gift_sku="GIFT-SOCKS", gift_value=Decimal("4.00")),
        RemedySpec(RemedyKind.HOLD_STOCK, hold_hours=24),
    ),
    limits=Limits(
        max_per_offer=Decimal("20.00"),
        daily_budget=Decimal("200.00"),
        monthly_budget=Decimal("2000.00"),
        per_agent_daily_cap=Decimal("50.00"),
        once_per_customer_days=30,
        approval_above=Decimal("0.00"),
    ),
    stacking=Stacking.EXCLUSIVE,
)


def changed(path: str, value: Any) -> dict[str, Any]:
    """VALID with the value at a dotted ``path`` replaced (list indexes are numbers);
    the value ``DELETE`` removes the key."""
    raw = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return raw


DELETE = object()


def test_a_valid_spec_becomes_the_expected_policy():
    # when
    spec = validate_spec(VALID, version_id=7, policy_id=3)
    # then
    assert spec == EXPECTED
    assert str(spec.conditions.max_cart_value) == "500.00"  # in the currency's minor unit


def test_the_smallest_valid_spec_takes_the_defaults():
    # given
    raw = {"name": "Hold", "currency": "JPY", "remedies": [{"kind": "hold_stock", "hold_hours": 2}]}
    # when
    spec = validate_spec(raw)
    # then
    assert spec == PolicySpec(
        version_id=0,
        policy_id=0,
        name="Hold",
        currency="JPY",
        priority=100,
        active=True,
        remedies=(RemedySpec(RemedyKind.HOLD_STOCK, hold_hours=2),),
        stacking=Stacking.COMBINABLE,
    )


def test_empty_values_mean_no_condition_and_no_limit():
    # given
    raw = {
        "name": "Open",
        "currency": "EUR",
        "valid_from": "",
        "valid_until": None,
        "conditions": {"min_cart_value": "", "stages": [], "countries": None, "segments": ""},
        "remedies": [{"kind": "waive_delivery", "max_amount": ""}],
        "limits": {"daily_budget": None, "once_per_customer_days": ""},
    }
    # when
    spec = validate_spec(raw)
    # then
    assert spec == PolicySpec(
        version_id=0,
        policy_id=0,
        name="Open",
        currency="EUR",
        remedies=(RemedySpec(RemedyKind.WAIVE_DELIVERY),),
    )


def test_a_spec_accepts_datetime_objects_with_a_time_zone():
    # given
    start = datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=1)))
    # when
    spec = validate_spec(changed("valid_from", start))
    # then
    assert spec.valid_from == start


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("name", DELETE, "name", "Give the policy a name."),
        ("name", "   ", "name", "Give the policy a name."),
        ("name", 42, "name", "Give the policy a name."),
        ("priority", -1, "priority", "Enter a whole number from 0 to 10000."),
        ("priority", 10_001, "priority", "Enter a whole number from 0 to 10000."),
        ("priority", "5", "priority", "Enter a whole number from 0 to 10000."),
        ("priority", True, "priority", "Enter a whole number from 0 to 10000."),
        ("active", "yes", "active", "Enter true or false."),
        ("valid_from", "2026-03-01T00:00:00", "valid_from", "Include a time zone."),
        ("valid_from", "1 March 2026", "valid_from", "Enter an ISO 8601 date and time."),
        ("valid_from", 20260301, "valid_from", "Enter an ISO 8601 date and time."),
        ("valid_until", "2026-03-01T00:00:00+01:00", "valid_until", "Must be after valid from."),
        ("valid_until", "2026-02-01T00:00:00+01:00", "valid_until", "Must be after valid from."),
        ("conditions", ["shipping"], "conditions", "Enter an object."),
        ("conditions", 0, "conditions", "Enter an object."),
        ("conditions", False, "conditions", "Enter an object."),
        (
            "conditions.min_cart_value",
            "50.001",
            "conditions.min_cart_value",
            "EUR amounts have at most 2 decimal places",
        ),
        (
            "conditions.min_cart_value",
            "-1",
            "conditions.min_cart_value",
            "amount must not be negative",
        ),
        (
            "conditions.max_cart_value",
            "49.99",
            "conditions.max_cart_value",
            "The maximum cart value is below the minimum.",
        ),
        ("conditions.stages", ["checkout"], "conditions.stages", "Unknown value(s): checkout."),
        ("conditions.stages", "shipping", "conditions.stages", "Enter a list of values."),
        ("conditions.stages", ["shipping", 3], "conditions.stages", "Enter a list of values."),
        (
            "conditions.stall_reasons",
            ["bored", "idle"],
            "conditions.stall_reasons",
            "Unknown value(s): bored.",
        ),
        (
            "conditions.segments",
            ["gold", "vip", "platinum"],
            "conditions.segments",
            "Unknown value(s): gold, platinum.",
        ),
        ("conditions.countries", {"DE": True}, "conditions.countries", "Enter a list of values."),
        (
            "conditions.countries",
            ["DEU"],
            "conditions.countries",
            "Use two-letter ISO 3166 country codes: DEU.",
        ),
        (
            "conditions.exclude_categories",
            ["shoes", "bags"],
            "conditions.exclude_categories",
            "Both included and excluded: shoes.",
        ),
        (
            "conditions.exclude_skus",
            ["SKU-1"],
            "conditions.exclude_skus",
            "Both included and excluded: SKU-1.",
        ),
        (
            "conditions.min_delivery_charge",
            4.9,
            "conditions.min_delivery_charge",
            'amount must be a decimal string such as "12.50", not a float',
        ),
        ("remedies", [], "remedies", "Allow at least one remedy."),
        ("remedies", DELETE, "remedies", "Allow at least one remedy."),
        ("remedies", {"kind": "discount"}, "remedies", "Allow at least one remedy."),
        ("remedies.0", "waive_delivery", "remedies.0", "Enter an object."),
        ("remedies.0", {"kind": "teleport"}, "remedies.0.kind", "Unknown remedy 'teleport'."),
        ("remedies.0", {}, "remedies.0.kind", "Unknown remedy None."),
        ("remedies.0", {"kind": ["discount"]}, "remedies.0.kind", "Unknown remedy value."),
        (
            "remedies.1",
            {"kind": "waive_delivery"},
            "remedies.1.kind",
            "Each remedy may appear once per policy.",
        ),
        (
            "remedies.1",
            {"kind": "reduce_delivery"},
            "remedies.1",
            "Bound it by a maximum percentage, a maximum amount, or both.",
        ),
        (
            "remedies.2",
            {"kind": "discount", "max_percent": ""},
            "remedies.2",
            "Bound it by a maximum percentage, a maximum amount, or both.",
        ),
        (
            "remedies.1.max_percent",
            "0",
            "remedies.1.max_percent",
            "Enter a percentage above 0 and at most 100.",
        ),
        (
            "remedies.1.max_percent",
            "100.01",
            "remedies.1.max_percent",
            "Enter a percentage above 0 and at most 100.",
        ),
        (
            "remedies.1.max_percent",
            "half",
            "remedies.1.max_percent",
            "Enter a percentage above 0 and at most 100.",
        ),
        (
            "remedies.1.max_percent",
            "NaN",
            "remedies.1.max_percent",
            "Enter a percentage above 0 and at most 100.",
        ),
        (
            "remedies.1.max_percent",
            "١٢",
            "remedies.1.max_percent",
            "Enter a percentage above 0 and at most 100.",
        ),
        (
            "remedies.1.max_percent",
            "1e1",
            "remedies.1.max_percent",
            "Enter a percentage above 0 and at most 100.",
        ),
        (
            "remedies.1.max_percent",
            True,
            "remedies.1.max_percent",
            "Enter a percentage above 0 and at most 100.",
        ),
        (
            "remedies.2.max_amount",
            "15.001",
            "remedies.2.max_amount",
            "EUR amounts have at most 2 decimal places",
        ),
        (
            "remedies.2.max_amount",
            "0",
            "remedies.2.max_amount",
            "Must be above zero (leave empty for no limit).",
        ),
        (
            "remedies.0",
            {"kind": "waive_delivery", "max_percent": "50"},
            "remedies.0.max_percent",
            "Waiving takes a cap amount, not a percentage.",
        ),
        ("remedies.3.gift_sku", " ", "remedies.3.gift_sku", "Name the gift's SKU."),
        ("remedies.3.gift_sku", 12, "remedies.3.gift_sku", "Name the gift's SKU."),
        (
            "remedies.3.gift_value",
            DELETE,
            "remedies.3.gift_value",
            "Enter what the gift costs (counted against budgets).",
        ),
        (
            "remedies.3.gift_value",
            "four",
            "remedies.3.gift_value",
            'amount must be a decimal string such as "12.50"',
        ),
        (
            "remedies.4.hold_hours",
            DELETE,
            "remedies.4.hold_hours",
            "Enter how many hours (1–168).",
        ),
        (
            "remedies.4.hold_hours",
            0,
            "remedies.4.hold_hours",
            "Enter a whole number from 1 to 168.",
        ),
        (
            "remedies.4.hold_hours",
            169,
            "remedies.4.hold_hours",
            "Enter a whole number from 1 to 168.",
        ),
        (
            "remedies.4.hold_hours",
            "24",
            "remedies.4.hold_hours",
            "Enter a whole number from 1 to 168.",
        ),
        ("limits", "none", "limits", "Enter an object."),
        ("limits", [], "limits", "Enter an object."),
        (
            "limits.max_per_offer",
            "0.00",
            "limits.max_per_offer",
            "Must be above zero (leave empty for no limit).",
        ),
        (
            "limits.daily_budget",
            "0",
            "limits.daily_budget",
            "Must be above zero (leave empty for no limit).",
        ),
        (
            "limits.daily_budget",
            "2000.01",
            "limits.daily_budget",
            "The daily budget is above the monthly budget.",
        ),
        (
            "limits.monthly_budget",
            "1e6",
            "limits.monthly_budget",
            'amount must be a decimal string such as "12.50"',
        ),
        (
            "limits.per_agent_daily_cap",
            "0",
            "limits.per_agent_daily_cap",
            "Must be above zero (leave empty for no limit).",
        ),
        (
            "limits.approval_above",
            "-5",
            "limits.approval_above",
            "amount must not be negative",
        ),
        (
            "limits.once_per_customer_days",
            0,
            "limits.once_per_customer_days",
            "Enter a whole number from 1 to 3650.",
        ),
        (
            "limits.once_per_customer_days",
            3651,
            "limits.once_per_customer_days",
            "Enter a whole number from 1 to 3650.",
        ),
        ("stacking", "sometimes", "stacking", "Choose exclusive or combinable."),
        ("stacking", None, "stacking", "Choose exclusive or combinable."),
    ],
)
def test_each_rule_names_its_field(path, value, field, message):
    # given
    raw = changed(path, value)
    # when
    result = validate_spec(raw)
    # then
    assert result == [SpecError(field, message)]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("priorty", "priorty"),
        ("conditions.min_cart_vaule", "conditions.min_cart_vaule"),
        ("remedies.2.max_percentage", "remedies.2.max_percentage"),
        ("limits.daily", "limits.daily"),
    ],
)
def test_a_misspelt_key_is_an_error_not_a_dropped_rule(path, field):
    # given
    raw = changed(path, "10")
    # when
    result = validate_spec(raw)
    # then
    assert result == [SpecError(field, "Unknown field.")]


def test_a_key_that_is_not_text_is_named_by_its_type():
    # given
    raw = copy.deepcopy(VALID)
    raw["conditions"][7] = "seven"
    # when
    result = validate_spec(raw)
    # then
    assert result == [SpecError("conditions.<int>", "Unknown field.")]


@pytest.mark.parametrize("currency", [None, "", "eur", "EURO", "XYZ", 978])
def test_an_unknown_currency_stops_validation_there(currency):
    # given: amounts cannot be checked without a currency
    raw = changed("currency", currency)
    raw["name"] = ""
    # when
    result = validate_spec(raw)
    # then
    assert result == [
        SpecError("name", "Give the policy a name."),
        SpecError("currency", "Use an ISO 4217 currency code such as EUR."),
    ]


def test_amounts_are_checked_in_the_policy_currency():
    # given: the one amount in VALID with cents other than ".00", which yen do not have
    raw = changed("currency", "JPY")
    # when
    result = validate_spec(raw)
    # then
    assert result == [
        SpecError("conditions.min_delivery_charge", "JPY amounts have at most 0 decimal places")
    ]


def test_every_error_is_reported_at_once():
    # given
    raw = changed("priority", -1)
    raw["stacking"] = "never"
    raw["conditions"]["stages"] = ["nowhere"]
    raw["remedies"][4]["hold_hours"] = 0
    raw["limits"]["daily_budget"] = "0"
    # when
    result = validate_spec(raw)
    # then
    assert [error.field for error in result] == [
        "priority",
        "conditions.stages",
        "remedies.4.hold_hours",
        "limits.daily_budget",
        "stacking",
    ]


@pytest.mark.parametrize("raw", [None, [], "spec", 42, 1.5, b"{}"])
def test_a_spec_that_is_not_an_object_is_refused(raw):
    # when
    result = validate_spec(raw)
    # then
    assert result == [SpecError("", "A policy spec is an object.")]


# --- garbage in, errors out ---------------------------------------------------------

# Values wrong for every field: not an object, not a list of strings, not a valid amount,
# percentage, count, date, currency, stacking or remedy kind.
WRONG = [
    math.nan,
    math.inf,
    -math.inf,
    2.5,
    -5,
    10**30,
    "NaN",
    "sNaN",
    "-Infinity",
    "1e999999",
    "9" * 40,
    "-0.5",
    "١٢",
    [[1]],
    [None],
    {"x": [1]},
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("-1"),
    b"1",
    True,
]
# ... except where such a value is valid after all: a string names a policy or a gift,
# true is an answer to "active", and 2.5 is a percentage.
VALID_HERE: dict[str, Any] = {
    "name": lambda v: isinstance(v, str),
    "remedies.3.gift_sku": lambda v: isinstance(v, str),
    "active": lambda v: v is True,
    "remedies.1.max_percent": lambda v: isinstance(v, float) and v == 2.5,
    "remedies.2.max_percent": lambda v: isinstance(v, float) and v == 2.5,
}
PATHS = [
    "name",
    "currency",
    "priority",
    "active",
    "valid_from",
    "valid_until",
    "conditions",
    *(f"conditions.{key}" for key in VALID["conditions"]),
    "remedies",
    "remedies.0",
    "remedies.0.kind",
    "remedies.0.max_amount",
    "remedies.1.max_percent",
    "remedies.2.max_percent",
    "remedies.2.max_amount",
    "remedies.3.gift_sku",
    "remedies.3.gift_value",
    "remedies.4.hold_hours",
    "limits",
    *(f"limits.{key}" for key in VALID["limits"]),
    "stacking",
]


def huge_int() -> int:
    """An int with no str() or repr() (Python's int_max_str_digits): built lazily, since
    pytest and hypothesis repr their parameters."""
    return 10**5000


wrong_values = st.sampled_from(WRONG) | st.builds(huge_int)


@pytest.mark.parametrize(
    ("path", "field", "message"),
    [
        (
            "remedies.1.max_percent",
            "remedies.1.max_percent",
            "Enter a percentage above 0 and at most 100.",
        ),
        ("remedies.0.kind", "remedies.0.kind", "Unknown remedy value."),
        ("priority", "priority", "Enter a whole number from 0 to 10000."),
        (
            "conditions.min_cart_value",
            "conditions.min_cart_value",
            "amount must not exceed 999999999.999",
        ),
        ("remedies.4.hold_hours", "remedies.4.hold_hours", "Enter a whole number from 1 to 168."),
    ],
)
def test_a_huge_integer_is_an_error_not_a_crash(path, field, message):
    # given
    raw = changed(path, huge_int())
    # when
    result = validate_spec(raw)
    # then
    assert result == [SpecError(field, message)]


@given(path=st.sampled_from(PATHS), value=wrong_values)
def test_a_wrong_value_anywhere_is_an_error_at_that_field(path, value):
    # given
    if VALID_HERE.get(path, lambda v: False)(value):
        value = {"not": "valid here"}
    raw = changed(path, value)
    # when
    result = validate_spec(raw)
    # then
    assert isinstance(result, list)
    assert any(e.field == path or e.field.startswith(f"{path}.") for e in result), result


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | wrong_values
    | st.decimals(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
spec_keys = st.sampled_from(
    ["name", "currency", "priority", "active", "valid_from", "valid_until", "conditions"]
    + ["remedies", "limits", "stacking"]
)


@given(raw=json_like | st.dictionaries(spec_keys, json_like, max_size=10))
def test_garbage_never_raises(raw):
    # when
    result = validate_spec(raw)
    # then
    if isinstance(result, list):
        assert result
        assert all(isinstance(e, SpecError) and isinstance(e.field, str) for e in result)
    else:
        assert isinstance(result, PolicySpec)


@given(mutations=st.lists(st.tuples(st.sampled_from(PATHS), json_like), min_size=1, max_size=6))
def test_a_valid_spec_with_garbage_mixed_in_never_raises(mutations):
    # given
    raw = copy.deepcopy(VALID)
    for path, value in mutations:
        try:
            raw = _set(raw, path, value)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # an earlier mutation replaced the parent
    # when
    result = validate_spec(raw)
    # then
    assert isinstance(result, list | PolicySpec)


def _set(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return raw
