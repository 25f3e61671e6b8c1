"""Bad input gets a clear 4xx with field-level errors, and nothing from the request is stored.

Every refusal here asserts the exact response body and that no CartEvent, Cart or Visitor
row was written (a batch is accepted or refused as a whole, docs/API.md "Errors").
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from cartassist.api.serializers import customer_identity_hmac
from cartassist.models import Cart, CartEvent, Visitor
from tests.fixtures.carts import iso, make_event
from tests.fixtures.sites import SHOP_ORIGIN, make_site

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ID_MESSAGE = "Use 1–64 characters: letters, digits, '.', '_', ':' or '-'."
DECIMAL_STRING = 'amount must be a decimal string such as "12.50"'


@pytest.fixture(autouse=True)
def _frozen(time_machine: Any) -> None:
    time_machine.move_to(NOW, tick=False)


def stored() -> tuple[int, int, int]:
    return CartEvent.objects.count(), Cart.objects.count(), Visitor.objects.count()


def event(kind: str = "cart_updated", **overrides: Any) -> dict[str, Any]:
    """A valid event of ``kind`` at NOW; ``overrides`` replace any field, even ``type``."""
    base = make_event(kind, id="evt-1", occurred_at=iso(NOW))
    base.update(overrides)
    return base


def with_data(kind: str = "cart_updated", **changes: Any) -> dict[str, Any]:
    base = event(kind)
    base["data"] = {**copy.deepcopy(base["data"]), **changes}
    return base


def without(*fields: str) -> dict[str, Any]:
    base = event()
    for name in fields:
        del base[name]
    return base


def invalid(errors: Any) -> dict[str, Any]:
    return {"detail": "Invalid input.", "errors": errors}


def at(index: int, errors: Any) -> dict[str, Any]:
    return invalid({"events": {str(index): errors}})


def post_raw(
    client: Client,
    body: str | bytes,
    *,
    content_type: str = "text/plain",
    origin: str | None = SHOP_ORIGIN,
) -> Any:
    headers = {"HTTP_ORIGIN": origin} if origin is not None else {}
    return client.post("/api/v1/widget/events", body, content_type=content_type, **headers)


# --- event fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_event", "errors"),
    [
        pytest.param(
            event(type="teleported"),
            {"type": ['"teleported" is not a valid choice.']},
            id="unknown-type",
        ),
        pytest.param(event(type=5), {"type": ['"5" is not a valid choice.']}, id="type-number"),
        pytest.param(
            without("id", "cart_id", "visitor_id"),
            {
                "id": ["This field is required."],
                "cart_id": ["This field is required."],
                "visitor_id": ["This field is required."],
            },
            id="missing-ids",
        ),
        pytest.param(
            without("type", "occurred_at"),
            {"type": ["This field is required."], "occurred_at": ["This field is required."]},
            id="missing-type-and-time",
        ),
        pytest.param(event(id=""), {"id": ["This field may not be blank."]}, id="blank-id"),
        pytest.param(event(cart_id="cart 1"), {"cart_id": [ID_MESSAGE]}, id="id-space"),
        pytest.param(event(cart_id="cart/1"), {"cart_id": [ID_MESSAGE]}, id="id-slash"),
        pytest.param(event(visitor_id="vïsitor"), {"visitor_id": [ID_MESSAGE]}, id="id-non-ascii"),
        pytest.param(event(id="<script>"), {"id": [ID_MESSAGE]}, id="id-markup"),
        pytest.param(
            event(id="x" * 65),
            {"id": [ID_MESSAGE, "Ensure this field has no more than 64 characters."]},
            id="id-too-long",
        ),
        pytest.param(event(cart_id=12), {"cart_id": ["Not a valid string."]}, id="id-number"),
        pytest.param(event(cart_id=True), {"cart_id": ["Not a valid string."]}, id="id-bool"),
        pytest.param(event(cart_id=["a"]), {"cart_id": ["Not a valid string."]}, id="id-list"),
        pytest.param(
            event(data="x"),
            {"data": ['Expected a dictionary of items but got type "str".']},
            id="data-not-object",
        ),
        pytest.param(
            event(data={}),
            {
                "data": {
                    "currency": ["This field is required."],
                    "subtotal": ["This field is required."],
                    "lines": ["This field is required."],
                }
            },
            id="data-missing-fields",
        ),
        pytest.param(
            with_data(lines={"sku": "MUG-1"}),
            {
                "data": {
                    "lines": {"non_field_errors": ['Expected a list of items but got type "dict".']}
                }
            },
            id="lines-not-list",
        ),
        pytest.param(
            with_data(
                lines=[{"sku": "MUG-1", "name": "Mug", "quantity": "two", "unit_price": "1"}]
            ),
            {"data": {"lines": {"0": {"quantity": ["A valid integer is required."]}}}},
            id="quantity-not-integer",
        ),
        pytest.param(
            with_data(lines=[{"sku": "MUG-1", "name": "Mug", "quantity": 0, "unit_price": "1"}]),
            {
                "data": {
                    "lines": {
                        "0": {"quantity": ["Ensure this value is greater than or equal to 1."]}
                    }
                }
            },
            id="quantity-zero",
        ),
        pytest.param(
            with_data("checkout_step", step="checkout"),
            {"data": {"step": ['"checkout" is not a valid choice.']}},
            id="unknown-step",
        ),
        pytest.param(
            with_data("coupon_rejected", code=None),
            {"data": {"code": ["This field may not be null."]}},
            id="coupon-code-null",
        ),
    ],
)
def test_bad_event_fields_are_refused(post_events, site, bad_event, errors):
    # when
    response = post_events.widget([bad_event])
    # then
    assert response.status_code == 400
    assert response.json() == at(0, errors)
    assert stored() == (0, 0, 0)


# --- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("12.345", "EUR amounts have at most 2 decimal places"),
        ("12.3456", "EUR amounts have at most 2 decimal places"),
        (12.345, "EUR amounts have at most 2 decimal places"),  # a JSON number, read exactly
        (0.1 + 0.2, "EUR amounts have at most 2 decimal places"),  # 0.30000000000000004
        ("1e3", DECIMAL_STRING),
        ("1E+3", DECIMAL_STRING),
        ("abc", DECIMAL_STRING),
        ("", DECIMAL_STRING),
        ("12,50", DECIMAL_STRING),
        ("+5", DECIMAL_STRING),
        ("1_000", DECIMAL_STRING),
        ("١٢", DECIMAL_STRING),  # Arabic-Indic digits: Decimal() would read 12
        ("NaN", DECIMAL_STRING),
        ("Infinity", DECIMAL_STRING),
        (None, "This field may not be null."),
        ([], DECIMAL_STRING),
        (-1, "amount must not be negative"),
        ("-0.01", "amount must not be negative"),
        (True, 'amount must be a decimal string such as "12.50", not true/false'),
        ("1000000000.00", "amount must not exceed 999999999.999"),
    ],
)
def test_bad_money_is_refused(post_events, site, amount, message):
    # given
    bad = with_data(subtotal=amount)
    # when
    response = post_events.widget([bad])
    # then
    assert response.status_code == 400
    assert response.json() == at(0, {"data": {"subtotal": [message]}})
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    ("amount", "subtotal"),
    [
        ("12.50", Decimal("12.50")),
        ("12.5", Decimal("12.50")),
        ("12", Decimal("12.00")),
        (" 12.50 ", Decimal("12.50")),
        (12, Decimal("12.00")),
        (12.5, Decimal("12.50")),  # a JSON number: accepted, read exactly
        ("0", Decimal("0.00")),
        ("999999999.99", Decimal("999999999.99")),
    ],
)
def test_good_money_is_accepted_exactly(post_events, site, amount, subtotal):
    # when
    response = post_events.widget([with_data(subtotal=amount)])
    # then
    assert response.status_code == 200, response.json()
    assert Cart.objects.get().subtotal == subtotal


@pytest.mark.parametrize(
    ("bad_event", "errors"),
    [
        pytest.param(
            with_data("shipping_quoted", fee="-4.90"),
            {"data": {"fee": ["amount must not be negative"]}},
            id="negative-fee",
        ),
        pytest.param(
            with_data("order_completed", total="74.999"),
            {"data": {"total": ["EUR amounts have at most 2 decimal places"]}},
            id="inexact-total",
        ),
        pytest.param(
            with_data(
                lines=[{"sku": "MUG-1", "name": "Mug", "quantity": 1, "unit_price": "1.005"}]
            ),
            {
                "data": {
                    "lines": {"0": {"unit_price": ["EUR amounts have at most 2 decimal places"]}}
                }
            },
            id="inexact-unit-price",
        ),
        pytest.param(
            with_data(currency="JPY", subtotal="1250.5", lines=[]),
            {"data": {"subtotal": ["JPY amounts have at most 0 decimal places"]}},
            id="yen-with-cents",
        ),
    ],
)
def test_bad_money_in_any_field_is_refused(post_events, site, bad_event, errors):
    # when
    response = post_events.widget([bad_event])
    # then
    assert response.status_code == 400
    assert response.json() == at(0, errors)
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    ("currency", "message"),
    [
        ("XXX", "Unknown currency 'XXX': use an ISO 4217 code."),
        ("eur", "Unknown currency 'eur': use an ISO 4217 code."),
        ("EURO", "Unknown currency 'EURO': use an ISO 4217 code."),
        (978, "Unknown currency 978: use an ISO 4217 code."),
    ],
)
def test_unknown_currency_is_refused(post_events, site, currency, message):
    # when
    response = post_events.widget([with_data(currency=currency)])
    # then
    assert response.status_code == 400
    assert response.json() == at(0, {"data": {"currency": [message]}})
    assert stored() == (0, 0, 0)


# --- timestamps ----------------------------------------------------------------------------

OFFSET_MESSAGE = "Include a UTC offset, e.g. 2026-11-23T10:15:00Z or +01:00."


@pytest.mark.parametrize(
    ("occurred_at", "message"),
    [
        ("2026-03-10T12:00:00", OFFSET_MESSAGE),
        ("2026-03-10", OFFSET_MESSAGE),  # a date alone has no offset either
        (iso(NOW + timedelta(minutes=5, seconds=1)), "This timestamp is in the future."),
        (iso(NOW - timedelta(hours=72, seconds=1)), "This event is too old to be accepted."),
        (1773144000, "Enter an ISO 8601 timestamp string."),
        (
            "yesterday",
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ),
    ],
)
def test_bad_timestamps_are_refused(post_events, site, occurred_at, message):
    # when
    response = post_events.widget([event(occurred_at=occurred_at)])
    # then
    assert response.status_code == 400
    assert response.json() == at(0, {"occurred_at": [message]})
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ("2026-03-10T12:00:00Z", NOW),
        ("2026-03-10T13:00:00+01:00", NOW),
        ("2026-03-10T13:00:00+0100", NOW),
        ("2026-03-10T07:00:00-05:00", NOW),
        (iso(NOW + timedelta(minutes=5)), NOW + timedelta(minutes=5)),  # clock skew allowed
        (iso(NOW - timedelta(hours=72)), NOW - timedelta(hours=72)),
    ],
)
def test_timestamps_with_an_offset_within_the_window_are_accepted(
    post_events, site, occurred_at, expected
):
    # when
    response = post_events.widget([event(occurred_at=occurred_at)])
    # then
    assert response.status_code == 200, response.json()
    assert CartEvent.objects.get().occurred_at == expected


# --- the batch -----------------------------------------------------------------------------


def test_one_bad_event_refuses_the_whole_batch(post_events, site):
    # given
    good = make_event(id="evt-good", occurred_at=iso(NOW))
    bad = make_event(id="evt-bad", occurred_at=iso(NOW), data={"currency": "EUR"})
    # when
    response = post_events.widget([good, bad])
    # then
    assert response.status_code == 400
    assert response.json() == at(
        1,
        {"data": {"subtotal": ["This field is required."], "lines": ["This field is required."]}},
    )
    assert stored() == (0, 0, 0)


def test_events_of_one_type_are_validated_independently_within_a_batch(post_events, site):
    # given: one data serializer per type serves the whole batch; no state may leak
    batch = [
        make_event(id="evt-0", occurred_at=iso(NOW), data={"currency": "EUR"}),
        make_event(id="evt-1", occurred_at=iso(NOW)),
        make_event(
            id="evt-2", occurred_at=iso(NOW), data={"currency": "XXX", "subtotal": "1", "lines": []}
        ),
    ]
    # when
    response = post_events.widget(batch)
    # then
    assert response.status_code == 400
    assert response.json() == invalid(
        {
            "events": {
                "0": {
                    "data": {
                        "subtotal": ["This field is required."],
                        "lines": ["This field is required."],
                    }
                },
                "2": {"data": {"currency": ["Unknown currency 'XXX': use an ISO 4217 code."]}},
            }
        }
    )
    assert stored() == (0, 0, 0)


def test_each_event_of_a_batch_keeps_its_own_data(post_events, site):
    # given
    line = {"sku": "S", "name": "N", "quantity": 1, "unit_price": "5.00", "category": ""}
    batch = [
        make_event(
            id=f"evt-{n}",
            cart_id=f"cart-{n}",
            occurred_at=iso(NOW),
            data={"currency": "EUR", "subtotal": f"{n}.00", "lines": [{**line, "sku": f"S{n}"}]},
        )
        for n in range(1, 4)
    ]
    # when
    response = post_events.widget(batch)
    # then
    assert response.status_code == 200
    assert [
        (e.event_id, e.data["subtotal"], e.data["lines"][0]["sku"])
        for e in CartEvent.objects.order_by("event_id")
    ] == [("evt-1", "1.00", "S1"), ("evt-2", "2.00", "S2"), ("evt-3", "3.00", "S3")]


def test_a_refused_batch_leaves_an_existing_cart_as_it_was(post_events, site):
    # given
    assert post_events.widget([event()]).status_code == 200
    before = Cart.objects.values().get()
    later = iso(NOW + timedelta(seconds=1))
    batch = [
        make_event("checkout_step", id="evt-2", occurred_at=later, data={"step": "payment"}),
        make_event("shipping_quoted", id="evt-3", occurred_at=later, data={"fee": "1"}),
    ]
    # when
    response = post_events.widget(batch)
    # then
    assert response.status_code == 400
    assert response.json() == at(1, {"data": {"currency": ["This field is required."]}})
    assert stored() == (1, 1, 0)
    assert Cart.objects.values().get() == before


def test_too_many_events_in_a_batch_are_refused(post_events, site):
    # given
    batch = [make_event(id=f"evt-{n}", occurred_at=iso(NOW)) for n in range(101)]
    # when
    response = post_events.widget(batch)
    # then
    assert response.status_code == 400
    assert response.json() == invalid(
        {"events": ["At most 100 events per batch; this one has 101."]}
    )
    assert stored() == (0, 0, 0)


def test_the_batch_limit_is_a_setting(post_events, site, settings):
    # given
    settings.CARTASSIST_MAX_BATCH_EVENTS = 3
    three = [make_event(id=f"evt-{n}", occurred_at=iso(NOW)) for n in range(3)]
    four = [make_event(id=f"evt-{n}", occurred_at=iso(NOW)) for n in range(3, 7)]
    # when
    accepted = post_events.widget(three)
    refused = post_events.widget(four)
    # then
    assert accepted.status_code == 200
    assert refused.status_code == 400
    assert refused.json() == invalid({"events": ["At most 3 events per batch; this one has 4."]})
    assert stored() == (3, 1, 0)


@pytest.mark.parametrize(
    ("events", "errors"),
    [
        pytest.param("x", {"events": ["Send a list of events."]}, id="not-a-list"),
        pytest.param(None, {"events": ["Send a list of events."]}, id="null"),
        pytest.param([], {"events": ["Send at least one event."]}, id="empty"),
        pytest.param(
            [1],
            {
                "events": {
                    "0": {"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]}
                }
            },
            id="event-not-object",
        ),
    ],
)
def test_a_malformed_batch_is_refused(client, site, events, errors):
    # given
    body = json.dumps({"site_key": site.public_key, "events": events})
    # when
    response = post_raw(client, body)
    # then
    assert response.status_code == 400
    assert response.json() == invalid(errors)
    assert stored() == (0, 0, 0)


# --- the body ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param(
            "not json",
            "The request body is not valid JSON: Expecting value: line 1 column 1 (char 0)",
            id="not-json",
        ),
        pytest.param("", "The request body is empty: send a JSON object.", id="empty"),
        pytest.param("[]", "The request body must be a JSON object.", id="array"),
        pytest.param('"events"', "The request body must be a JSON object.", id="string"),
        pytest.param(b"\xff\xfe{}", "The request body is not UTF-8.", id="not-utf8"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, site, body, detail):
    # when
    response = post_raw(client, body)
    # then
    assert response.status_code == 400
    assert response.json() == {"detail": detail, "errors": {"body": [detail]}}
    assert stored() == (0, 0, 0)


def test_a_json_array_of_batches_is_refused(client, site):
    # given: a valid batch, wrapped in an array
    body = json.dumps([{"site_key": site.public_key, "events": [event()]}])
    # when
    response = post_raw(client, body)
    # then
    detail = "The request body must be a JSON object."
    assert response.status_code == 400
    assert response.json() == {"detail": detail, "errors": {"body": [detail]}}
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(client, site, constant):
    # given: Python's json module would otherwise read these as floats
    body = json.dumps({"site_key": site.public_key, "events": [event()]}).replace(
        '"60.00"', constant
    )
    assert constant in body
    # when
    response = post_raw(client, body)
    # then
    detail = f"The request body is not valid JSON: {constant} is not valid JSON"
    assert response.status_code == 400
    assert response.json() == {"detail": detail, "errors": {"body": [detail]}}
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_is_refused_without_crashing(client, site, opener):
    # given: far deeper than the parser's recursion limit, well under the size limit
    body = '{"site_key": "%s", "events": %s' % (site.public_key, opener * 50_000)  # noqa: UP031
    # when
    response = post_raw(client, body)
    # then
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("The request body is not valid JSON: maximum recursion depth")
    assert response.json() == {"detail": detail, "errors": {"body": [detail]}}
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data", "application/xml"]
)
def test_a_wrong_content_type_is_refused_with_415(client, site, content_type):
    # given: a body that would be a valid batch
    body = json.dumps({"site_key": site.public_key, "events": [event()]})
    # when
    response = post_raw(client, body, content_type=content_type)
    # then
    assert response.status_code == 415
    assert response.json() == {"detail": f'Unsupported media type "{content_type}" in request.'}
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8"],
)
def test_json_and_beacon_content_types_are_accepted(client, site, content_type):
    # given: sendBeacon() sends text/plain;charset=UTF-8
    body = json.dumps({"site_key": site.public_key, "events": [event()]})
    # when
    response = post_raw(client, body, content_type=content_type)
    # then
    assert response.status_code == 200, response.json()
    assert stored() == (1, 1, 0)


# --- site key and origin (widget) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("site_key", "errors"),
    [
        ("pk_unknown", {"site_key": ["Unknown site key."]}),
        ("", {"site_key": ["The site key is missing."]}),
        (None, {"site_key": ["The site key is missing."]}),
        (42, {"site_key": ["The site key is missing."]}),
    ],
)
def test_an_unknown_or_missing_site_key_is_refused(client, site, site_key, errors):
    # given
    body = json.dumps({"site_key": site_key, "events": [event()]})
    # when
    response = post_raw(client, body)
    # then
    assert response.status_code == 403
    assert response.json() == {"detail": errors["site_key"][0], "errors": errors}
    assert stored() == (0, 0, 0)


MISSING_ORIGIN = "An Origin header is required: call this endpoint from a browser."


@pytest.mark.parametrize(
    ("origin", "message"),
    [
        (None, MISSING_ORIGIN),
        ("", MISSING_ORIGIN),
        ("null", MISSING_ORIGIN),  # sandboxed iframes, file:// pages, some redirects
        ("https://evil.example", "Origin https://evil.example is not allowed for this site."),
        ("http://shop.example", "Origin http://shop.example is not allowed for this site."),
        (
            "https://shop.example:8443",
            "Origin https://shop.example:8443 is not allowed for this site.",
        ),
        (
            "https://shop.example.evil.example",
            "Origin https://shop.example.evil.example is not allowed for this site.",
        ),
        # Not what a browser sends for https://shop.example: compared exactly, refused.
        ("https://shop.example/", "Origin https://shop.example/ is not allowed for this site."),
        ("HTTPS://SHOP.EXAMPLE", "Origin HTTPS://SHOP.EXAMPLE is not allowed for this site."),
        (
            "https://shop.example:443",
            "Origin https://shop.example:443 is not allowed for this site.",
        ),
    ],
)
def test_a_missing_null_or_foreign_origin_is_refused(post_events, site, origin, message):
    # when
    response = post_events.widget([event()], origin=origin)
    # then
    assert response.status_code == 403
    assert response.json() == {"detail": message, "errors": {"origin": [message]}}
    assert stored() == (0, 0, 0)


def test_the_origin_of_another_site_is_refused(post_events, site):
    # given: another site allows https://other.example; ours does not
    make_site(name="Other", allowed_origins=["https://other.example"])
    # when
    response = post_events.widget([event()], origin="https://other.example")
    # then
    message = "Origin https://other.example is not allowed for this site."
    assert response.status_code == 403
    assert response.json() == {"detail": message, "errors": {"origin": [message]}}
    assert stored() == (0, 0, 0)


# --- shopper identity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ({"customer_id": "cust-7"}, "Required with customer_id: sign it on your server."),
        ({"customer_id": "cust-7", "customer_hmac": ""}, "This field may not be blank."),
        (
            {"customer_id": "cust-7", "customer_hmac": "00" * 32},
            "Does not match customer_id for this site.",
        ),
    ],
)
def test_a_customer_id_without_a_valid_identity_hmac_is_refused(
    post_events, site, identity, message
):
    # when
    response = post_events.widget([event(**identity)])
    # then
    assert response.status_code == 400
    assert response.json() == at(0, {"customer_hmac": [message]})
    assert stored() == (0, 0, 0)


def test_an_identity_hmac_for_another_customer_is_refused(post_events, site):
    # given: a shopper copies someone else's signed identity
    hmac_of_other = customer_identity_hmac(site.secret, "cust-8")
    # when
    response = post_events.widget([event(customer_id="cust-7", customer_hmac=hmac_of_other)])
    # then
    assert response.status_code == 400
    assert response.json() == at(
        0, {"customer_hmac": ["Does not match customer_id for this site."]}
    )
    assert stored() == (0, 0, 0)


def test_an_identity_hmac_signed_by_another_site_is_refused(post_events, site):
    # given
    other = make_site(name="Other")
    # when
    response = post_events.widget(
        [event(customer_id="cust-7", customer_hmac=customer_identity_hmac(other.secret, "cust-7"))]
    )
    # then
    assert response.status_code == 400
    assert response.json() == at(
        0, {"customer_hmac": ["Does not match customer_id for this site."]}
    )
    assert stored() == (0, 0, 0)


# --- one error shape ---------------------------------------------------------------------


def assert_documented_shape(response: Any) -> None:
    """docs/API.md "Errors": a JSON object with a human ``detail``; 400s add ``errors``,
    mapping each offending field (by path) to a list of messages."""
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert set(body) <= {"detail", "errors"}
    if response.status_code == 400:
        assert isinstance(body["errors"], dict)
        assert body["errors"]
        pending = [body["errors"]]
        while pending:
            node = pending.pop()
            assert isinstance(node, dict)
            for value in node.values():
                if isinstance(value, list):
                    assert value
                    assert all(isinstance(message, str) for message in value)
                else:
                    pending.append(value)


def test_every_refusal_has_the_documented_shape(client, post_events, site, settings, monkeypatch):
    # given: one request for each refusal the API makes
    good = json.dumps({"site_key": site.public_key, "events": [event()]})
    requests = {
        400: [
            lambda: post_events.widget([event(type="teleported")]),
            lambda: post_events.widget([with_data(subtotal="12.345")]),
            lambda: post_raw(client, "not json"),
            lambda: post_raw(client, "[]"),
        ],
        401: [lambda: post_events.server([event()], secret="wrong")],
        403: [lambda: post_events.widget([event()], origin="null")],
        405: [lambda: client.get("/api/v1/widget/events")],
        411: [
            lambda: client.generic(
                "POST",
                "/api/v1/widget/events",
                b"",
                content_type="text/plain",
                HTTP_ORIGIN=SHOP_ORIGIN,
                HTTP_TRANSFER_ENCODING="chunked",
            )
        ],
        413: [lambda: post_raw(client, good + " " * (settings.CARTASSIST_MAX_BODY_BYTES + 1))],
        415: [lambda: post_raw(client, good, content_type="application/xml")],
    }
    # when
    responses = {status: [send() for send in senders] for status, senders in requests.items()}
    cache.clear()  # forget the requests above; then allow one a minute
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"widget_events": "1/min"})
    assert post_raw(client, good).status_code == 200
    responses[429] = [post_raw(client, good)]
    # then
    for status, answers in responses.items():
        for response in answers:
            assert response.status_code == status, response.content
            assert_documented_shape(response)
    assert stored() == (1, 1, 0)  # only the request before the rate limit was used up
