"""Per-site-key rate limits: 429 with Retry-After, nothing stored, other keys unaffected.

DRF reads DEFAULT_THROTTLE_RATES once, into ``SimpleRateThrottle.THROTTLE_RATES`` at class
definition, so the tests patch that attribute rather than the setting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
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
