"""Per-site-key rate limits: 429 with Retry-After, nothing stored, other keys unaffected.

DRF reads DEFAULT_THROTTLE_RATES once, into ``SimpleRateThrottle.THROTTLE_RATES`` at class
definition, so the tests patch that attribute rather than the setting.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import redis.connection
from django.core.cache import cache
from django.test.utils import override_settings
from rest_framework.throttling import SimpleRateThrottle

from cartassist.models import CartEvent
from tests.fixtures.carts import EventPoster, iso, make_event
from tests.fixtures.sites import make_site

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
THROTTLED = {"detail": "Request was throttled. Expected available in 60 seconds."}


@pytest.fixture(autouse=True)
def frozen(time_machine: Any) -> Any:
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture(autouse=True)
def tiny_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"widget_events": "2/min", "server_events": "2/min"}
    )


def one_event() -> list[dict[str, Any]]:
    return [make_event(occurred_at=iso(NOW))]


def redis_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each Redis command sent from now on (every client sends each command
    through its connection's ``send_command``)."""
    commands: list[str] = []
    original = redis.connection.AbstractConnection.send_command

    def recording(self: Any, *args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_command", recording)
    return commands


@pytest.mark.parametrize("endpoint", ["widget", "server"])
def test_the_request_over_the_rate_gets_429_and_stores_nothing(post_events, site, endpoint):
    # given
    post = getattr(post_events, endpoint)
    assert [post(one_event()).status_code for _ in range(2)] == [200, 200]
    # when
    response = post(one_event())
    # then
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response.json() == THROTTLED
    assert CartEvent.objects.count() == 2


def test_the_limit_is_per_site_key(client, post_events, site):
    # given: site A has used its rate
    for _ in range(2):
        assert post_events.widget(one_event()).status_code == 200
    other = EventPoster(client, make_site(name="Other"))
    # when
    response = other.widget(one_event())
    # then
    assert response.status_code == 200
    assert post_events.widget(one_event()).status_code == 429


def test_widget_and_server_calls_are_counted_apart(post_events, site):
    # given: the widget rate is used up
    for _ in range(2):
        assert post_events.widget(one_event()).status_code == 200
    # when
    response = post_events.server(one_event())
    # then
    assert response.status_code == 200


def test_the_rate_frees_up_after_the_period(post_events, site, frozen):
    # given
    for _ in range(2):
        assert post_events.widget(one_event()).status_code == 200
    assert post_events.widget(one_event()).status_code == 429
    frozen.move_to(NOW + timedelta(seconds=61), tick=False)
    # when
    response = post_events.widget([make_event(occurred_at=iso(NOW + timedelta(seconds=61)))])
    # then
    assert response.status_code == 200


def test_refused_callers_do_not_use_up_the_site_rate(post_events, site):
    # given: a stranger posting from a foreign origin with the site's public key
    for _ in range(5):
        assert post_events.widget(one_event(), origin="https://evil.example").status_code == 403
    # when
    responses = [post_events.widget(one_event()).status_code for _ in range(2)]
    # then
    assert responses == [200, 200]


# --- one count for the verification API and page ---------------------------------------------


def test_the_verification_page_and_api_share_one_limit_per_address(client, db, monkeypatch):
    # given: two look-ups a minute per address, one used by the API
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"verification": "2/min"})
    assert client.get("/api/v1/verify/ABCDEFGH").status_code == 404
    assert client.get("/verify/ABCDEFGH").status_code == 404
    # when
    page = client.get("/verify/ABCDEFGH")
    api = client.get("/api/v1/verify/ABCDEFGH")
    # then
    assert (page.status_code, page["Retry-After"]) == (429, "60")
    assert "Try again in 60 seconds." in page.text
    assert (api.status_code, api["Retry-After"]) == (429, "60")
    other_address = client.get("/verify/ABCDEFGH", REMOTE_ADDR="198.51.100.7")
    assert other_address.status_code == 404


# --- Redis unreachable (docs/adr/0012) -----------------------------------------------------


@pytest.fixture
def unreachable_redis(settings: Any) -> None:
    """The cache is Redis, on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }


def test_limits_still_hold_per_process_while_redis_is_unreachable(
    post_events, site, unreachable_redis, caplog
):
    # when
    statuses = [post_events.widget(one_event()).status_code for _ in range(3)]
    # then: served, within the limit of this process, and said so in the log
    assert statuses == [200, 200, 429]
    assert CartEvent.objects.count() == 2
    assert [
        r.getMessage().split(" (")[0] for r in caplog.records if r.name.endswith("ratelimits")
    ] == ["Redis unavailable for rate limits"]


def test_a_signed_request_is_a_503_while_redis_is_unreachable(post_events, site, unreachable_redis):
    # when
    response = post_events.server(one_event())
    # then: the documented error shape, a time to come back, nothing stored
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "detail": "Signed requests cannot be checked for replays right now; nothing was "
        "stored. Retry (signed anew) after the time in Retry-After."
    }
    assert CartEvent.objects.count() == 0


@pytest.mark.redis
def test_each_throttled_request_is_one_atomic_redis_command(post_events, site, monkeypatch):
    # given: the window script is loaded, and the site and stall rules are cached
    with override_settings(CARTASSIST_LOCAL_CACHE_SECONDS=3600):
        assert post_events.widget(one_event()).status_code == 200
        commands = redis_commands(monkeypatch)
        # when: the second request of the 2/min window, then a third
        statuses = [post_events.widget(one_event()).status_code for _ in range(2)]
    # then: still limited, each request counted by one EVALSHA and nothing else
    assert statuses == [200, 429]
    assert commands == ["EVALSHA", "EVALSHA"]


@pytest.mark.redis
@pytest.mark.parametrize("endpoint", ["widget", "server"])
def test_a_redis_that_lost_the_script_still_counts_every_hit(post_events, site, endpoint):
    # given: the script loaded, then forgotten by Redis (a restart, SCRIPT FLUSH)
    post = getattr(post_events, endpoint)
    assert post(one_event()).status_code == 200
    cache._cache.get_client(write=True).script_flush()
    # when: the second hit of the 2/min window, then a third
    statuses = [post(one_event()).status_code for _ in range(2)]
    # then: the window was counted in Redis across the flush
    assert statuses == [200, 429]
    assert CartEvent.objects.count() == 2


def test_a_throttled_request_gets_429_even_with_a_body_that_fails_validation(post_events, site):
    # given: the rate used up
    assert [post_events.widget(one_event()).status_code for _ in range(2)] == [200, 200]
    # when: an invalid batch (its validation runs while the rate limit's answer travels)
    response = post_events.widget([{"id": "x"}])
    # then: the limit answers, as it did before the body was looked at
    assert (response.status_code, response.json()) == (429, THROTTLED)
    # and: below the limit, the same body gets its field errors
    post_events.client.cookies.clear()
    other = EventPoster(post_events.client, make_site(name="Other"))
    refused = other.widget([{"id": "x"}])
    assert refused.status_code == 400
    assert "events" in refused.json()["errors"]


# --- a signature's first use and the rate, in one step (ADR 0028) -------------------------


def test_replayed_signatures_are_refused_without_using_up_the_rate(post_events):
    # given: one signed request served
    body = json.dumps({"events": one_event()}).encode()
    assert post_events.server_body(body).status_code == 200
    # when: it is replayed five times, then two new requests come (2/min)
    replays = [post_events.server_body(body) for _ in range(5)]
    fresh = [post_events.server(one_event()).status_code for _ in range(2)]
    # then: each replay refused as one, and they did not count against the rate
    assert {(r.status_code, r.json()["errors"]["X-CartAssist-Signature"][0]) for r in replays} == {
        (401, "This signature was already used (replay).")
    }
    assert fresh == [200, 429]
    assert CartEvent.objects.count() == 2


def test_a_replayed_signature_is_refused_whatever_its_body(post_events):
    # given: a body that is not JSON, signed and used once (refused for its body)
    body = b"{not json"
    assert post_events.server_body(body).status_code == 400
    # when: the same request again
    again = post_events.server_body(body)
    # then: the replay answers first, as it did when it was checked before the body
    assert again.status_code == 401


@pytest.mark.redis
def test_a_signed_event_request_is_one_redis_command(post_events, monkeypatch):
    # given: the scripts loaded, the site and stall rules cached
    with override_settings(CARTASSIST_LOCAL_CACHE_SECONDS=3600):
        assert post_events.server(one_event()).status_code == 200
        commands = redis_commands(monkeypatch)
        # when
        response = post_events.server(one_event())
    # then: the signature's first use and the rate's hit in one EVALSHA
    assert response.status_code == 200
    assert commands == ["EVALSHA"]
