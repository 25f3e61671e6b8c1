"""The API answers as its OpenAPI schema and docs/API.md say (issue 9, item 15).

The schema-wide fuzz test (test_schema_fuzz.py) finds violations by chance; these pin
the ones found, each with the exact answer, and audit every operation of the schema for
the refusals its kind of endpoint can give, so an endpoint added later is held to it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from cartassist.client import sign
from cartassist.core.roles import groups_ensure
from cartassist.domain.sequential import difference_sequence
from cartassist.domain.uplift import compare
from cartassist.models import CartEvent, Site
from tests.fixtures.sites import SHOP_ORIGIN, make_site

pytestmark = pytest.mark.django_db

SIGNING_HEADERS = {"x-cartassist-key", "x-cartassist-timestamp", "x-cartassist-signature"}


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    return json.loads(client.get("/api/schema/", {"format": "json"}).content)


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def request_schema(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    media = next(iter(operation["requestBody"]["content"].values()))
    return schema["components"]["schemas"][media["schema"]["$ref"].rsplit("/", 1)[1]]


def signed_post(client: Client, site: Site, path: str, body: bytes) -> Any:
    timestamp = str(int(time.time()))
    return client.post(
        path,
        data=body,
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=timestamp,
        HTTP_X_CARTASSIST_SIGNATURE=sign(site.secret, timestamp, body),
    )


# --- the schema, audited operation by operation --------------------------------------------


def test_every_operation_that_takes_a_body_declares_it_required_with_its_refusals(schema):
    # when
    described = {
        (method, path): (
            operation.get("requestBody", {}).get("required"),
            {"400", "411", "413", "415"} - set(operation["responses"]),
        )
        for method, path, operation in operations(schema)
        if method in {"POST", "PUT", "PATCH"}
    }
    # then: every one (the events, session, follow-ups and grant endpoints)
    assert len(described) >= 6
    assert {key: value for key, value in described.items() if value != (True, set())} == {}


def test_every_signed_operation_documents_its_401(schema):
    # when
    signed = {
        (method, path): "401" in operation["responses"]
        for method, path, operation in operations(schema)
        if {p["name"].lower() for p in operation.get("parameters", [])} >= SIGNING_HEADERS
    }
    # then
    assert len(signed) >= 4
    assert set(signed.values()) == {True}


def test_every_browser_operation_documents_its_403(schema):
    # when: the operations whose body carries a site key (site key + Origin)
    widget = {
        (method, path): "403" in operation["responses"]
        for method, path, operation in operations(schema)
        if "requestBody" in operation
        and "site_key" in request_schema(schema, operation).get("properties", {})
    }
    # then
    assert widget == {
        ("POST", "/api/v1/widget/events"): True,
        ("POST", "/api/v1/widget/session"): True,
        ("POST", "/api/v1/widget/resume"): True,
        ("POST", "/api/v1/integrations/shopify/pixel"): True,
        ("POST", "/api/v1/integrations/discount"): True,
    }


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/v1/server/grants/redeem", "post", {"200", "400", "401", "403", "409", "410"}),
        ("/api/v1/server/grants/verify", "post", {"200", "400", "401", "403"}),
        ("/api/v1/verify/{code}", "get", {"200", "404", "429"}),
        ("/api/v1/widget/session", "post", {"200", "400", "403", "429"}),
        ("/api/v1/widget/resume", "post", {"200", "400", "403", "404", "429"}),
    ],
)
def test_the_statuses_each_endpoint_returns_are_documented(schema, path, method, statuses):
    assert statuses <= set(schema["paths"][path][method]["responses"])


def test_refusals_document_their_error_body(schema):
    # when
    error = schema["paths"]["/api/v1/server/grants/redeem"]["post"]["responses"]["409"]
    # then
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


# --- requests without a body: refused, as the schema now says ------------------------------


@pytest.mark.parametrize(
    ("path", "request_component"),
    [
        ("/api/v1/server/grants/verify", "TokenRequest"),
        ("/api/v1/server/grants/redeem", "RedeemRequest"),
    ],
)
def test_a_grant_call_without_a_body_is_refused_and_the_body_is_declared(
    client, schema, path, request_component
):
    # given
    site = make_site()
    # when
    response = signed_post(client, site, path, b"")
    # then
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body is empty: send a JSON object.",
        "errors": {"body": ["The request body is empty: send a JSON object."]},
    }
    body = schema["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{request_component}"
    }


def test_the_widget_session_body_is_declared_for_both_content_types(schema):
    # when
    body = schema["paths"]["/api/v1/widget/session"]["post"]["requestBody"]
    # then
    assert body["required"] is True
    assert sorted(body["content"]) == ["application/json", "text/plain"]
    assert set(
        request_schema(schema, schema["paths"]["/api/v1/widget/session"]["post"])["required"]
    ) == {"site_key", "visitor_id"}


# --- the served example stays valid ------------------------------------------------------------


def test_the_served_event_example_is_accepted_as_it_is(client, schema):
    # given: the example of the server events endpoint, exactly as the schema serves it
    site = make_site()
    content = schema["paths"]["/api/v1/server/events"]["post"]["requestBody"]["content"]
    example = next(iter(content["application/json"]["examples"].values()))["value"]
    # when
    response = signed_post(client, site, "/api/v1/server/events", json.dumps(example).encode())
    # then
    assert (response.status_code, response.json()) == (
        200,
        {"stored": ["evt_01HZX3"], "duplicates": []},
    )
    assert CartEvent.objects.filter(site=site).count() == 1


# --- analytics filters ----------------------------------------------------------------------


@pytest.fixture
def merchandiser_client(settings: Any) -> Client:
    user = User.objects.create_user(username="mia", is_staff=True)
    user.groups.add(groups_ensure()["Merchandisers"])
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("field", ["date_from", "date_to", "site"])
def test_an_empty_analytics_filter_is_a_field_error(merchandiser_client, field):
    # when
    response = merchandiser_client.get(f"/api/v1/analytics?{field}=")
    # then
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "errors": {field: ["This filter is empty: give a value or leave it out."]},
    }


@pytest.mark.parametrize("query", ["date_to=0001-01-05", "date_from=9999-12-30&date_to=9999-12-31"])
def test_dates_at_the_ends_of_the_calendar_are_refused_not_a_server_error(
    merchandiser_client, query
):
    # when
    api = merchandiser_client.get(f"/api/v1/analytics?{query}")
    page = merchandiser_client.get(f"/analytics/?{query}")
    # then
    assert api.status_code == 400
    assert set(api.json()["errors"]) <= {"date_from", "date_to"}
    assert "Choose a date from 2000-01-01 to 2999-12-31." in api.json()["errors"]["date_to"]
    assert page.status_code == 400


def test_the_analytics_page_still_takes_its_empty_form_fields_as_defaults(merchandiser_client):
    # when: the page's filter form submitted with nothing filled in
    response = merchandiser_client.get("/analytics/?date_from=&date_to=&site=")
    # then
    assert response.status_code == 200


# --- input that used to be a server error ------------------------------------------------------


def test_a_non_ascii_signature_is_refused_as_invalid(client):
    # given
    site = make_site()
    # when
    response = client.post(
        "/api/v1/server/events",
        data=b'{"events": []}',
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=str(int(time.time())),
        HTTP_X_CARTASSIST_SIGNATURE="v1=\u00e9",
    )
    # then
    assert response.status_code == 401
    assert response.json()["errors"] == {"X-CartAssist-Signature": ["Invalid signature."]}


def test_a_customer_hmac_that_is_not_hex_is_a_field_error(client):
    # given
    site = make_site()
    event = {
        "id": "evt-1",
        "type": "checkout_step",
        "occurred_at": "2026-01-01T00:00:00Z",
        "cart_id": "cart-1",
        "visitor_id": "v-1",
        "customer_id": "cust-7",
        "customer_hmac": "\u00a9",
        "data": {"step": "contact"},
    }
    # when
    response = client.post(
        "/api/v1/widget/events",
        data=json.dumps({"site_key": site.public_key, "events": [event]}),
        content_type="text/plain",
        HTTP_ORIGIN=SHOP_ORIGIN,
    )
    # then
    assert response.status_code == 400
    assert response.json()["errors"]["events"]["0"]["customer_hmac"] == [
        "Send the hex HMAC-SHA256 of customer_id."
    ]
    assert CartEvent.objects.count() == 0


# --- the docs say what the API sends -----------------------------------------------------------


def test_the_analytics_docs_show_rates_unrounded_as_the_api_sends_them():
    # given: the conversion figures of the JSON example in docs/ANALYTICS.md
    text = (Path(__file__).resolve().parents[2] / "docs" / "ANALYTICS.md").read_text()
    conversion = text[text.index('"conversion": {') :].split("}", 1)[0]
    documented = {
        name: float(value)
        for name, value in re.findall(r'"(\w+)": ([0-9.]+)', conversion)
        if not name.endswith(("_successes", "invited", "held_out"))
    }
    # when: what the API computes for the example's counts (411 of 1204 vs 29 of 133)
    result = compare(411, 1204, 29, 133)
    sequence = difference_sequence(411, 1204, 29, 133)
    assert result.interval is not None
    assert sequence.interval is not None
    # then
    assert documented == {
        "sequence_low": sequence.interval.low,
        "sequence_high": sequence.interval.high,
        "stalled_carts_to_exclude_zero": sequence.carts_to_exclude_zero,
        "invited_rate": result.rate_a,
        "held_out_rate": result.rate_b,
        "uplift": result.difference,
        "uplift_low": result.interval.low,
        "uplift_high": result.interval.high,
        "relative_uplift": result.relative,
    }
