"""The OpenAPI schema and its browsable docs page, served without any third-party CDN."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from drf_spectacular.validation import validate_schema

CDN_HOSTS = ("cdn.jsdelivr", "unpkg.com", "cdnjs.", "googleapis.com", "gstatic.com", "fastly")


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    return json.loads(response.content)


def test_the_schema_is_valid_openapi(schema):
    # when / then: raises on any violation of the OpenAPI 3 JSON schema
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "CartAssist API"


def test_the_schema_generates_without_warnings(tmp_path: Path):
    # when / then: --fail-on-warn turns any guesswork of drf-spectacular into an error
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert (tmp_path / "s.yaml").read_text().startswith("openapi: 3.")


@pytest.mark.parametrize(
    ("path", "operation_id", "request_schema", "content_types", "refusals"),
    [
        (
            "/api/v1/widget/events",
            "widget_events_create",
            "WidgetBatchRequest",
            ["application/json", "text/plain"],
            {"400", "403", "411", "413", "415", "429"},
        ),
        (
            "/api/v1/server/events",
            "server_events_create",
            "ServerBatchRequest",
            ["application/json"],
            {"400", "401", "411", "413", "415", "429", "503"},
        ),
    ],
)
def test_both_event_endpoints_are_described(
    schema, path, operation_id, request_schema, content_types, refusals
):
    # when
    operation = schema["paths"][path]["post"]
    # then
    assert operation["operationId"] == operation_id
    body = operation["requestBody"]
    assert body["required"] is True
    assert sorted(body["content"]) == content_types
    for media in body["content"].values():
        assert media["schema"] == {"$ref": f"#/components/schemas/{request_schema}"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IngestResult"
    }
    assert refusals <= set(operation["responses"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/server/events",
        "/api/v1/server/follow-ups",
        "/api/v1/server/grants/verify",
        "/api/v1/server/grants/redeem",
    ],
)
def test_every_signed_endpoint_documents_its_503_while_redis_is_down(schema, path):
    # when
    responses = schema["paths"][path]["post"]["responses"]
    # then
    assert responses["503"]["description"].startswith("Replay protection (Redis) is unavailable")


def test_the_server_endpoint_documents_its_signature_headers(schema):
    # when
    parameters = schema["paths"]["/api/v1/server/events"]["post"]["parameters"]
    # then
    assert {(p["name"], p["in"], p["required"]) for p in parameters} == {
        ("X-CartAssist-Key", "header", True),
        ("X-CartAssist-Timestamp", "header", True),
        ("X-CartAssist-Signature", "header", True),
    }


def test_the_event_schema_lists_every_event_type(schema):
    # when
    event = schema["components"]["schemas"]["CartEventRequest"]
    type_enum = schema["components"]["schemas"][
        event["properties"]["type"]["$ref"].rsplit("/", 1)[1]
    ]["enum"]
    # then
    assert sorted(type_enum) == [
        "cart_updated",
        "checkout_step",
        "coupon_rejected",
        "opted_out",
        "order_completed",
        "payment_failed",
        "shipping_quoted",
    ]
    assert set(event["required"]) >= {"id", "type", "occurred_at", "cart_id", "visitor_id"}


def test_the_docs_page_renders_without_a_cdn(client):
    # when
    response = client.get("/api/docs/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="swagger-ui"' in html
    assert [host for host in CDN_HOSTS if host in html] == []
    assert re.findall(r"https?://", html) == []


def test_the_docs_page_assets_are_served_locally(client):
    # given
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    # when
    statuses = {asset: client.get(asset).status_code for asset in assets}
    # then
    # (with hashed names such as swagger-ui-bundle.37aa30ada62e.js in production mode)
    names = [asset.rsplit("/", 1)[1] for asset in assets]
    assert any(re.fullmatch(r"swagger-ui-bundle(\.[0-9a-f]{12})?\.js", n) for n in names), names
    assert any(re.fullmatch(r"swagger-ui(\.[0-9a-f]{12})?\.css", n) for n in names), names
    assert set(statuses.values()) == {200}, statuses


def test_the_docs_page_points_at_the_schema(client):
    # when
    html = client.get("/api/docs/").content.decode()
    # then
    assert '"/api/schema/"' in html


@pytest.mark.parametrize(
    ("path", "operation_id", "body"),
    [
        (
            "/api/v1/server/interventions/{intervention_id}",
            "server_intervention_outcome",
            "InterventionOutcome",
        ),
        ("/api/v1/server/carts/{cart_id}/interventions", "server_cart_outcomes", "CartOutcomes"),
    ],
)
def test_the_outcome_reads_are_described_with_every_answer(schema, path, operation_id, body):
    # when
    operation = schema["paths"][path]["get"]
    # then: the signed-GET headers, and a schema for each status the view returns
    assert operation["operationId"] == operation_id
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert set(headers) == {"X-CartAssist-Key", "X-CartAssist-Timestamp", "X-CartAssist-Signature"}
    assert ".GET " in headers["X-CartAssist-Signature"]["description"]
    refs = {
        status: answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for status, answer in operation["responses"].items()
    }
    assert refs == {"200": body, "400": "Error", "401": "Error", "404": "Error", "503": "Error"}
