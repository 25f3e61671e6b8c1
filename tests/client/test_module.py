"""The client module on its own: standard library only, values checked before sending."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from cartassist import client as client_module
from cartassist.api.auth import sign as server_sign
from cartassist.client import (
    ApiError,
    CartAssistClient,
    Event,
    request_target,
    sign,
    signed_headers,
)

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_client_loads_no_django_and_no_celery():
    # given: a fresh interpreter, as a shop backend would import it
    code = (
        "import sys, cartassist.client\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'celery', 'kombu', 'rest_framework', 'requests', 'redis'))\n"
        "print(heavy)\n"
    )
    # when
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # then
    assert result.stdout.strip() == "[]"


def test_the_celery_worker_still_finds_the_configured_app():
    # given: what `celery -A cartassist worker` resolves, in a fresh interpreter
    code = (
        "from celery.app.utils import find_app\n"
        "app = find_app('cartassist')\n"
        "import cartassist.celery\n"
        "print(app is cartassist.celery.app, app.main)\n"
    )
    # when
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # then
    assert result.stdout.split() == ["True", "cartassist"]


def test_tasks_queued_from_a_django_process_use_the_configured_app():
    # given: a process that starts Django (web, daphne) and imports the tasks
    code = (
        "import django\n"
        "django.setup()\n"
        "from cartassist.celery import app\n"
        "from cartassist.tasks import stall_sweep_task\n"
        "print(stall_sweep_task.app is app, app.conf.task_acks_late)\n"
    )
    # when
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"DJANGO_SETTINGS_MODULE": "cartassist.settings", "PATH": "/usr/bin:/bin"},
    )
    # then: the Celery settings of cartassist/settings.py are the app's
    assert result.stdout.split() == ["True", "True"]


def test_the_signature_is_the_servers():
    # given
    body = b'{"events":[]}'
    # then: the client and the server's verifier compute the same value
    assert sign("sk_x", 1795433700, body) == server_sign("sk_x", "1795433700", body)
    assert (
        sign("sk_x", "1795433700", body)
        == "v1=" + hmac.new(b"sk_x", b"1795433700." + body, hashlib.sha256).hexdigest()
    )
    assert request_target("get", "/api/v1/server/interventions/7?x=1") == (
        b"GET /api/v1/server/interventions/7?x=1"
    )
    assert signed_headers(site_key="pk_1", secret="sk_x", message=body, timestamp=5) == {
        "X-CartAssist-Key": "pk_1",
        "X-CartAssist-Timestamp": "5",
        "X-CartAssist-Signature": sign("sk_x", 5, body),
    }


def test_an_event_keeps_its_id_and_serialises_money_as_decimal_strings():
    # given
    moment = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    event = Event(
        type="order_completed",
        cart_id="c-1",
        visitor_id="v-1",
        data={"order_id": "o-1", "currency": "EUR", "total": Decimal("74.90")},
        occurred_at=moment,
    )
    # then
    assert event.id == event.event_id
    assert len(event.id) == 36
    assert Event(type="opted_out", cart_id="c", visitor_id="v").id != event.id
    assert json.loads(client_module._dumps(event.as_json())) == {  # the bytes sent
        "id": event.id,
        "type": "order_completed",
        "occurred_at": "2026-11-23T10:15:00Z",
        "cart_id": "c-1",
        "visitor_id": "v-1",
        "data": {"order_id": "o-1", "currency": "EUR", "total": "74.90"},
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "cart_abandoned"}, "unknown event type"),
        ({"occurred_at": datetime(2026, 11, 23, 10, 15)}, "timezone-aware"),
        ({"data": {"currency": "EUR", "fee": 9.9}}, "float"),
        ({"data": {"lines": [{"unit_price": 1.5}]}}, "float"),
    ],
)
def test_an_event_the_server_would_misread_is_refused_before_sending(fields, message):
    values = {"type": "shipping_quoted", "cart_id": "c", "visitor_id": "v", **fields}
    with pytest.raises(ValueError, match=message):
        Event(**values)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "ftp://ca.example"}, "https://"),
        ({"batch_size": 101}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_a_misconfigured_client_is_refused(options, message):
    values = {"base_url": "https://ca.example", "site_key": "pk", "secret": "sk", **options}
    with pytest.raises(ValueError, match=message):
        CartAssistClient(**values)


def test_an_api_error_carries_status_detail_errors_and_code():
    error = ApiError(409, {"detail": "Already redeemed for ord-1.", "code": "already_redeemed"})
    assert (error.status, error.detail, error.code, error.errors) == (
        409,
        "Already redeemed for ord-1.",
        "already_redeemed",
        {},
    )
    assert str(error) == "HTTP 409: Already redeemed for ord-1."
    plain = ApiError(502, "<html>Bad gateway</html>")
    assert (plain.detail, plain.code) == ("<html>Bad gateway</html>", None)
