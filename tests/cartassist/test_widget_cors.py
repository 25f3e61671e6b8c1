"""CORS answers of the widget endpoint: what a page on another origin may read."""

from __future__ import annotations

import pytest
from rest_framework.throttling import SimpleRateThrottle

from cartassist.models import CartEvent
from tests.fixtures.carts import make_event
from tests.fixtures.sites import SHOP_ORIGIN


def test_the_page_may_read_the_answer_and_its_retry_after(post_events, site):
    # when
    response = post_events.widget([make_event()])
    # then
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP_ORIGIN
    assert response["Access-Control-Expose-Headers"] == "Retry-After"


def test_a_throttled_answer_exposes_retry_after(
    post_events, site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"widget_events": "1/min"})
    assert post_events.widget([make_event()]).status_code == 200
    # when
    response = post_events.widget([make_event()])
    # then: the widget (cartassist.js) can honour it across origins
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response["Access-Control-Expose-Headers"] == "Retry-After"
    assert CartEvent.objects.count() == 1


@pytest.mark.parametrize("origin", ["https://shop.example/", "HTTPS://shop.example", "null"])
def test_an_origin_no_browser_sends_gets_no_cors_headers(post_events, site, origin):
    # when
    response = post_events.widget([make_event()], origin=origin)
    # then: refused, and not readable by the page either
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert CartEvent.objects.count() == 0


def test_a_preflight_is_answered_for_an_origin_a_browser_sends(client):
    # when
    response = client.options("/api/v1/widget/events", HTTP_ORIGIN="https://any.example:8443")
    # then
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://any.example:8443"
