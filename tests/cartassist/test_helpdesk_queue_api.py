"""The helpdesk's live queue: POST /api/v1/server/helpdesk/queue, signed like server
events (docs/integrations/helpdesk.md, "Live queue")."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from cartassist.api.auth import sign
from cartassist.carts.models.helpdesk import office_hours_grid
from cartassist.models import HelpdeskCapacity, Site

pytestmark = pytest.mark.django_db

URL = "/api/v1/server/helpdesk/queue"
NOW = datetime(2026, 3, 10, 12, 40, tzinfo=UTC)  # 13:40 in Berlin


def report(client: Client, site: Site, payload: Any, *, secret: str | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    ts = str(int(time.time()))
    return client.post(
        URL,
        body,
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(secret or site.secret, ts, body),
    )


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_signed_report_is_stored_with_the_hour_it_applies_to(client, site, frozen):
    # when
    response = report(client, site, {"open_contacts": 12, "capacity_override": 6})
    # then
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "open_contacts": 12,
        "capacity_override": 6,
        "override_hour_start": "2026-03-10T12:00:00Z",  # 13:00 in Berlin
        "reported_at": "2026-03-10T12:40:00Z",
        "counts_until": "2026-03-10T12:55:00Z",
        "pacing_enabled": False,
    }
    row = HelpdeskCapacity.objects.get(site=site)
    assert (row.open_contacts, row.capacity_override) == (12, 6)
    assert row.override_hour_start == NOW.replace(minute=0)
    assert row.hourly == office_hours_grid()


def test_a_report_without_override_clears_the_previous_one(client, site, frozen):
    HelpdeskCapacity.objects.create(
        site=site, pacing_enabled=True, capacity_override=3, override_hour_start=NOW
    )
    response = report(client, site, {"open_contacts": 0})
    assert response.status_code == 200
    row = HelpdeskCapacity.objects.get(site=site)
    assert (row.open_contacts, row.capacity_override, row.override_hour_start) == (0, None, None)
    assert response.json()["pacing_enabled"] is True


def test_a_bad_signature_is_refused_and_nothing_is_stored(client, site):
    response = report(client, site, {"open_contacts": 1}, secret="sk_not_the_secret")
    assert response.status_code == 401
    assert not HelpdeskCapacity.objects.exists()


def test_an_unknown_key_is_refused(client, site):
    body = b'{"open_contacts": 1}'
    ts = str(int(time.time()))
    response = client.post(
        URL, body, content_type="application/json", HTTP_X_CARTASSIST_KEY="pk_unknown",
        HTTP_X_CARTASSIST_TIMESTAMP=ts, HTTP_X_CARTASSIST_SIGNATURE=sign(site.secret, ts, body),
    )  # fmt: skip
    assert response.status_code == 401
    assert not HelpdeskCapacity.objects.exists()


def test_a_stale_timestamp_is_refused(client, site):
    body = b'{"open_contacts": 1}'
    ts = str(int(time.time()) - 3600)
    response = client.post(
        URL, body, content_type="application/json", HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts, HTTP_X_CARTASSIST_SIGNATURE=sign(site.secret, ts, body),
    )  # fmt: skip
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "open_contacts"),
        ({"open_contacts": "3"}, "open_contacts"),
        ({"open_contacts": True}, "open_contacts"),
        ({"open_contacts": 4.0}, "open_contacts"),
        ({"open_contacts": -1}, "open_contacts"),
        ({"open_contacts": 100_001}, "open_contacts"),
        ({"open_contacts": 2, "capacity_override": 2.5}, "capacity_override"),
        ({"open_contacts": 2, "capacity_override": -4}, "capacity_override"),
    ],
)
def test_invalid_bodies_are_refused_field_by_field(client, site, payload, field):
    # when
    response = report(client, site, payload)
    # then
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not HelpdeskCapacity.objects.exists()


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'"open"'])
def test_a_body_that_is_not_a_json_object_is_refused(client, site, body):
    response = report(client, site, body)
    assert response.status_code == 400
    assert not HelpdeskCapacity.objects.exists()


def test_the_operation_is_documented(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "helpdesk_queue_report"
    assert {"200", "400", "401", "413", "415", "503"} <= set(operation["responses"])


def test_a_report_changes_only_the_live_fields(client, site, frozen):
    # given: a grid and the pacing switch set in the admin
    grid = [[4] * 24 for _ in range(7)]
    HelpdeskCapacity.objects.create(site=site, pacing_enabled=True, hourly=grid)
    # when
    report(client, site, {"open_contacts": 2})
    # then
    row = HelpdeskCapacity.objects.get(site=site)
    assert (row.pacing_enabled, row.hourly, row.open_contacts) == (True, grid, 2)
