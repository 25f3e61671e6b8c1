"""The signed server endpoint: HMAC over timestamp + raw body, a replay window, rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cartassist.carts.services.sites import site_secret_rotate
from cartassist.client import sign
from cartassist.models import Cart, CartEvent, EventSource
from tests.fixtures.carts import iso, make_event
from tests.fixtures.sites import make_site

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SERVER_PATH = "/api/v1/server/events"
AUTH_HEADER = 'CartAssist-HMAC realm="api"'


@pytest.fixture(autouse=True)
def frozen(time_machine: Any) -> Any:
    time_machine.move_to(NOW, tick=False)
    return time_machine


def stored() -> tuple[int, int]:
    return CartEvent.objects.count(), Cart.objects.count()


def body_for(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events) or [make_event(occurred_at=iso(NOW))]}).encode()


def signed_post(
    client: Client,
    site: Any,
    body: bytes,
    *,
    secret: str | None = None,
    timestamp: str | None = None,
    signature: str | None = None,
    key: str | None = None,
    signed_body: bytes | None = None,
) -> Any:
    """POST ``body`` signed like a shop backend; every part can be overridden."""
    ts = timestamp if timestamp is not None else str(int(timezone.now().timestamp()))
    headers = {
        "HTTP_X_CARTASSIST_KEY": key if key is not None else site.public_key,
        "HTTP_X_CARTASSIST_TIMESTAMP": ts,
        "HTTP_X_CARTASSIST_SIGNATURE": signature
        if signature is not None
        else sign(secret or site.secret, ts, signed_body if signed_body is not None else body),
    }
    return client.post(SERVER_PATH, body, content_type="application/json", **headers)


def refused(field: str, message: str) -> dict[str, Any]:
    return {"detail": message, "errors": {field: [message]}}


def test_a_correctly_signed_batch_is_stored_as_trusted(client, site):
    # given
    event = make_event(occurred_at=iso(NOW))
    # when: no Origin header, as from a server
    response = signed_post(client, site, body_for(event))
    # then
    assert response.status_code == 200, response.json()
    assert response.json() == {"stored": [event["id"]], "duplicates": []}
    assert CartEvent.objects.get().source == EventSource.SERVER
    assert Cart.objects.get().totals_trusted is True


def test_a_signature_with_the_wrong_secret_is_refused(client, site):
    # when
    response = signed_post(client, site, body_for(), secret="sk_not_the_secret")
    # then
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == AUTH_HEADER
    assert response.json() == refused("X-CartAssist-Signature", "Invalid signature.")
    assert stored() == (0, 0)


def test_a_signature_over_another_body_is_refused(client, site):
    # given: the body was changed after signing (here: a bigger subtotal)
    original = make_event(occurred_at=iso(NOW))
    tampered = {**original, "data": {**original["data"], "subtotal": "6000.00"}}
    # when
    response = signed_post(client, site, body_for(tampered), signed_body=body_for(original))
    # then
    assert response.status_code == 401
    assert response.json() == refused("X-CartAssist-Signature", "Invalid signature.")
    assert stored() == (0, 0)


def test_a_signature_of_another_timestamp_is_refused(client, site):
    # given: a valid signature moved to a fresher timestamp
    body = body_for()
    old_ts = str(int(NOW.timestamp()) - 10)
    # when
    response = signed_post(
        client,
        site,
        body,
        signature=sign(site.secret, old_ts, body),
        timestamp=str(int(NOW.timestamp())),
    )
    # then
    assert response.status_code == 401
    assert response.json() == refused("X-CartAssist-Signature", "Invalid signature.")
    assert stored() == (0, 0)


@pytest.mark.parametrize(
    "signature",
    ["", "deadbeef", "v1=", "v2=" + "0" * 64],
    ids=["missing", "no-version", "empty-mac", "unknown-version"],
)
def test_a_malformed_signature_is_refused(client, site, signature):
    # when
    response = signed_post(client, site, body_for(), signature=signature)
    # then
    assert response.status_code == 401
    assert response.json() == refused("X-CartAssist-Signature", "Invalid signature.")
    assert stored() == (0, 0)


def test_the_signature_of_one_site_does_not_open_another(client, site):
    # given: signed with site B's secret but sent with site A's key
    other = make_site(name="Other")
    # when
    response = signed_post(client, site, body_for(), secret=other.secret)
    # then
    assert response.status_code == 401
    assert response.json() == refused("X-CartAssist-Signature", "Invalid signature.")
    assert stored() == (0, 0)


@pytest.mark.parametrize(
    ("key", "message"),
    [("pk_unknown", "Unknown site key."), ("", "The site key is missing.")],
)
def test_an_unknown_or_missing_key_is_refused(client, site, key, message):
    # when
    response = signed_post(client, site, body_for(), key=key)
    # then
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == AUTH_HEADER
    assert response.json() == refused("X-CartAssist-Key", message)
    assert stored() == (0, 0)


@pytest.mark.parametrize("timestamp", ["", "yesterday", "-5", "1.5", "1" * 13])
def test_a_malformed_timestamp_is_refused(client, site, timestamp):
    # when
    response = signed_post(client, site, body_for(), timestamp=timestamp)
    # then
    assert response.status_code == 401
    assert response.json() == refused(
        "X-CartAssist-Timestamp", "Send the signing time as Unix seconds."
    )
    assert stored() == (0, 0)


@pytest.mark.parametrize("offset", [-301, 301, -86400], ids=["stale", "future", "a-day-old"])
def test_a_timestamp_outside_the_window_is_refused(client, site, offset):
    # given: correctly signed, but at a time too far from now
    timestamp = str(int(NOW.timestamp()) + offset)
    # when
    response = signed_post(client, site, body_for(), timestamp=timestamp)
    # then
    assert response.status_code == 401
    assert response.json() == refused(
        "X-CartAssist-Timestamp", "Outside the 300 s signature window."
    )
    assert stored() == (0, 0)


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_at_the_edge_of_the_window_is_accepted(client, site, offset):
    # given
    timestamp = str(int(NOW.timestamp()) + offset)
    # when
    response = signed_post(client, site, body_for(), timestamp=timestamp)
    # then
    assert response.status_code == 200, response.json()
    assert stored() == (1, 1)


def test_the_window_is_a_setting(client, site, settings):
    # given
    settings.CARTASSIST_SIGNATURE_WINDOW = timedelta(seconds=30)
    timestamp = str(int(NOW.timestamp()) - 31)
    # when
    response = signed_post(client, site, body_for(), timestamp=timestamp)
    # then
    assert response.status_code == 401
    assert response.json() == refused(
        "X-CartAssist-Timestamp", "Outside the 30 s signature window."
    )


def test_a_replayed_request_is_refused(client, site):
    # given: the exact same signed request, captured and sent again
    body = body_for(make_event(occurred_at=iso(NOW)))
    first = signed_post(client, site, body)
    assert first.status_code == 200
    # when
    replay = signed_post(client, site, body)
    # then
    assert replay.status_code == 401
    assert replay.json() == refused(
        "X-CartAssist-Signature", "This signature was already used (replay)."
    )
    assert stored() == (1, 1)


def test_a_replay_is_refused_even_when_its_events_are_new(client, site):
    # given: the replay protection does not rely on event idempotency
    body = body_for(make_event(occurred_at=iso(NOW)))
    assert signed_post(client, site, body).status_code == 200
    CartEvent.objects.all().delete()
    # when
    replay = signed_post(client, site, body)
    # then
    assert replay.status_code == 401
    assert CartEvent.objects.count() == 0


def test_the_same_body_signed_again_later_is_accepted_as_duplicates(client, site, frozen):
    # given: a retry done right: re-signed with a new timestamp
    event = make_event(occurred_at=iso(NOW))
    body = body_for(event)
    assert signed_post(client, site, body).status_code == 200
    frozen.move_to(NOW + timedelta(seconds=1), tick=False)
    # when
    retry = signed_post(client, site, body)
    # then
    assert retry.status_code == 200
    assert retry.json() == {"stored": [], "duplicates": [event["id"]]}
    assert stored() == (1, 1)


# --- secret rotation -----------------------------------------------------------------------


def test_after_rotation_the_new_secret_signs(client, site):
    # given
    old_secret = site.secret
    # when
    site = site_secret_rotate(site=site)
    response = signed_post(client, site, body_for())
    # then
    assert site.secret != old_secret
    assert (site.previous_secret, site.previous_secret_expires_at) == (
        old_secret,
        NOW + timedelta(hours=24),
    )
    assert response.status_code == 200


def test_the_previous_secret_is_accepted_within_the_grace_period(client, site, frozen):
    # given
    old_secret = site.secret
    site = site_secret_rotate(site=site)
    frozen.move_to(NOW + timedelta(hours=24) - timedelta(seconds=1), tick=False)
    # when
    response = signed_post(client, site, body_for(), secret=old_secret)
    # then
    assert response.status_code == 200, response.json()
    assert stored() == (1, 1)


def test_the_previous_secret_is_refused_after_the_grace_period(client, site, frozen):
    # given
    old_secret = site.secret
    site = site_secret_rotate(site=site)
    frozen.move_to(NOW + timedelta(hours=24), tick=False)
    event = make_event(occurred_at=iso(NOW + timedelta(hours=24)))
    # when
    response = signed_post(client, site, body_for(event), secret=old_secret)
    # then
    assert response.status_code == 401
    assert response.json() == refused("X-CartAssist-Signature", "Invalid signature.")
    assert stored() == (0, 0)


def test_a_second_rotation_retires_the_first_secret_at_once(client, site):
    # given
    first_secret = site.secret
    site_secret_rotate(site=site)
    site = site_secret_rotate(site=site)
    # when
    response = signed_post(client, site, body_for(), secret=first_secret)
    # then
    assert response.status_code == 401
    assert stored() == (0, 0)


def test_the_grace_period_is_a_setting(client, site, settings, frozen):
    # given
    settings.CARTASSIST_SECRET_ROTATION_GRACE = timedelta(hours=1)
    old_secret = site.secret
    site = site_secret_rotate(site=site)
    frozen.move_to(NOW + timedelta(hours=1), tick=False)
    event = make_event(occurred_at=iso(NOW + timedelta(hours=1)))
    # when
    response = signed_post(client, site, body_for(event), secret=old_secret)
    # then
    assert site.previous_secret_expires_at == NOW + timedelta(hours=1)
    assert response.status_code == 401
