"""The fast path of event validation (cartassist/api/event_check.py, ADR 0021) against
the serializer it stands in for: whatever the fast path accepts, the serializer accepts
with the same dict (same values, same key order); valid events take the fast path.

No database: the site is a stand-in with the one method validation reads."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from cartassist.api.event_check import event_checked
from cartassist.api.serializers import CartEventSerializer, validate_events
from cartassist.carts.models import EventType
from cartassist.core.signing import customer_identity_hmac

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SECRET = "s" * 40


@dataclass(frozen=True)
class StandInSite:
    secrets: tuple[str, ...] = (SECRET,)

    def valid_secrets(self, now: datetime) -> tuple[str, ...]:
        return self.secrets


SITE = StandInSite()

ids = st.from_regex(r"[A-Za-z0-9._:\-]{1,64}", fullmatch=True)
# What a CharField accepts as it is: no NUL (refused), no surrounding space (trimmed).
text = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=30).filter(
    lambda s: s == s.strip()
)
amounts = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=0, max_value=10**6, places=2).map(str),
)
currencies = st.sampled_from(["EUR", "USD", "JPY", "KWD", "GBP"])
times = st.integers(min_value=-70 * 3600, max_value=200).map(
    lambda s: (NOW + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
)


def _amount_in(currency: str) -> st.SearchStrategy[Any]:
    places = {"JPY": 0, "KWD": 3}.get(currency, 2)
    return st.one_of(
        st.integers(min_value=0, max_value=10**6),
        st.decimals(min_value=0, max_value=10**6, places=places).map(str),
    )


@st.composite
def datas(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    currency = draw(currencies)
    money = _amount_in(currency)
    if event_type == "cart_updated":
        line = st.fixed_dictionaries(
            {
                "sku": ids,
                "name": text,
                "quantity": st.integers(min_value=1, max_value=100_000),
                "unit_price": money,
            },
            optional={"category": st.just("") | ids},
        )
        return draw(
            st.fixed_dictionaries(
                {
                    "currency": st.just(currency),
                    "subtotal": money,
                    "lines": st.lists(line, max_size=3),
                },
                optional={"customer_segment": st.sampled_from(["", "vip"])},
            )
        )
    if event_type == "checkout_step":
        return {"step": draw(st.sampled_from(["contact", "shipping", "payment"]))}
    if event_type == "shipping_quoted":
        return draw(
            st.fixed_dictionaries(
                {"currency": st.just(currency), "fee": money},
                optional={"method": st.just("") | text, "country": st.sampled_from(["", "DE"])},
            )
        )
    if event_type == "payment_failed":
        return draw(st.fixed_dictionaries({}, optional={"reason": st.just("") | text}))
    if event_type == "coupon_rejected":
        return {"code": draw(ids)}
    if event_type == "order_completed":
        return {"order_id": draw(ids), "currency": currency, "total": draw(money)}
    return {}


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(sorted(EventType.values)))
    event: dict[str, Any] = {
        "id": draw(ids),
        "type": event_type,
        "occurred_at": draw(times),
        "cart_id": draw(ids),
        "visitor_id": draw(ids),
        "data": draw(datas(event_type)),
    }
    if draw(st.booleans()):
        event["customer_id"] = draw(ids)
        event["customer_hmac"] = customer_identity_hmac(SECRET, event["customer_id"])
    return event


# Values that the fields refuse, or accept only after changing them.
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**7),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.text(max_size=70),
    st.sampled_from(
        [
            "",
            " x",
            "x ",
            "a\x00b",
            "\ud800",
            "ü",
            "EUR",
            "vip",
            "DE",
            "de",
            "12.345",
            "1e3",
            "-1",
            " 12.50",
            "2026-11-23T10:00:00",
            "2026-11-23",
            "2026-11-23T10:00:00+01:00",
            "2030-01-01T00:00:00Z",
            "0" * 65,
            "a" * 64,
            "a" * 201,
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with a few values replaced, removed, or fields added."""
    event = draw(valid_events())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(event)
        path = draw(st.sampled_from(paths))
        *parent_path, last = path
        parent: Any = event
        for key in parent_path:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "remove", "add", "pad"]))
        if action == "pad" and isinstance(parent[last], str):  # text the field trims
            parent[last] = draw(st.sampled_from([" ", "\n", "\t"])) + parent[last]
        elif action == "remove":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            name = draw(
                st.sampled_from(
                    ["email", "phone", "customer_name", "customer_hmac", "customer_id", "x"]
                )
            )
            parent[name] = draw(odd_values | ids)
        else:
            parent[last] = draw(odd_values)
        if not _paths(event):
            break
    return event


def _serializer(*, trusted: bool) -> CartEventSerializer:
    serializer = CartEventSerializer()
    serializer._context = {"site": SITE, "trusted": trusted, "now": NOW}
    return serializer


def _as_serializer_says(raw: Any, *, trusted: bool) -> dict[str, Any] | None:
    try:
        return dict(_serializer(trusted=trusted).run_validation(raw))
    except serializers.ValidationError:
        return None


def _shape(value: Any) -> str:
    """Values and key order, Decimal exponents included."""
    return json.dumps(value, default=repr)


def _agrees(raw: dict[str, Any], *, trusted: bool) -> dict[str, Any] | None:
    checked = event_checked(copy.deepcopy(raw), site=SITE, trusted=trusted, now=NOW)
    if checked is not None:
        expected = _as_serializer_says(copy.deepcopy(raw), trusted=trusted)
        assert expected is not None, raw
        assert _shape(checked) == _shape(expected), raw
    return checked


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=valid_events(), trusted=st.booleans())
def test_a_valid_event_takes_the_fast_path_with_the_serializers_result(event, trusted):
    # given: an event the serializer accepts
    # when
    checked = _agrees(event, trusted=trusted)
    # then
    assert checked is not None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=mutated_events(), trusted=st.booleans())
def test_the_fast_path_accepts_only_what_the_serializer_accepts_and_alike(event, trusted):
    _agrees(event, trusted=trusted)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=odd_values | st.lists(odd_values, max_size=2))
def test_anything_else_is_left_to_the_serializer(raw):
    assert event_checked(raw, site=SITE, trusted=True, now=NOW) is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(mutated_events() | valid_events(), min_size=1, max_size=6))
def test_a_batch_gets_the_serializers_errors_word_for_word(events):
    # given: a batch mixing valid and invalid events
    serializer = _serializer(trusted=False)
    expected_errors: dict[str, Any] = {}
    expected_valid: list[dict[str, Any]] = []
    for index, raw in enumerate(events):
        try:
            expected_valid.append(dict(serializer.run_validation(raw)))
        except serializers.ValidationError as exc:
            expected_errors[str(index)] = exc.detail
    # when / then: the same field-level errors as the serializer alone, or the same events
    if expected_errors:
        with pytest.raises(serializers.ValidationError) as refused:
            validate_events(events, site=SITE, trusted=False, now=NOW)
        assert refused.value.detail == {"events": expected_errors}
    else:
        result = validate_events(events, site=SITE, trusted=False, now=NOW)
        assert _shape(result) == _shape(expected_valid)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a@example.com"),
        ("phone", "+49301234567"),
        ("customer_name", "Ann"),
    ],
)
def test_contacts_are_left_to_the_serializer(field, value):
    event = {
        "id": "e1",
        "type": "checkout_step",
        "occurred_at": "2026-11-23T09:59:00Z",
        "cart_id": "c1",
        "visitor_id": "v1",
        "data": {"step": "contact"},
        field: value,
    }
    assert event_checked(event, site=SITE, trusted=True, now=NOW) is None


def test_a_json_number_with_a_fraction_is_left_to_the_serializer():
    # given: the body parser turns 12.50 into Decimal("12.50")
    event = {
        "id": "e1",
        "type": "shipping_quoted",
        "occurred_at": "2026-11-23T09:59:00Z",
        "cart_id": "c1",
        "visitor_id": "v1",
        "data": {"currency": "EUR", "fee": Decimal("12.50")},
    }
    # when / then
    assert event_checked(event, site=SITE, trusted=False, now=NOW) is None
    assert _as_serializer_says(event, trusted=False)["data"]["fee"] == Decimal("12.50")
