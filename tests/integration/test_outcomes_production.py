"""Outcomes in production: an order posted to gunicorn is attached to its intervention by
the Celery worker; a helpdesk follow-up is credited; Celery beat finalises closed windows."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cartassist.client import signed_headers
from cartassist.models import Intervention, Site
from tests.fixtures.agents import make_intervention, make_stalled_cart
from tests.fixtures.carts import iso, make_event
from tests.fixtures.sites import make_site

from .conftest import Stack, wait_until
from .test_production_stack import post, post_signed

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def stack_extra_env() -> dict[str, str]:
    return {"CARTASSIST_OUTCOMES_INTERVAL_SECONDS": "1"}


def report_follow_up(port: int, site: Site, payload: dict) -> tuple[int, dict]:
    body = json.dumps(payload).encode()
    headers = signed_headers(site_key=site.public_key, secret=site.secret, message=body)
    return post(
        port, "/api/v1/server/follow-ups", body, {"Content-Type": "application/json", **headers}
    )


def test_orders_and_follow_ups_attach_in_the_worker_and_beat_finalises(
    production_stack: Stack,
) -> None:
    # Given an invitation two hours ago, and another 30 hours ago (its window has closed)
    stack = production_stack
    now = timezone.now()
    site = make_site()
    cart = make_stalled_cart(site, visitor_id="v-recent", now=now - timedelta(hours=2))
    recent = make_intervention(cart, now=now - timedelta(hours=2))
    old_cart = make_stalled_cart(site, visitor_id="v-old", now=now - timedelta(hours=30))
    old = make_intervention(old_cart, now=now - timedelta(hours=30))

    # When the shop backend reports the order on the recent cart (gunicorn)
    event = make_event(
        "order_completed",
        cart_id=cart.external_id,
        visitor_id="v-recent",
        occurred_at=iso(now - timedelta(hours=1)),
        data={"order_id": "ord-prod-1", "currency": "EUR", "total": "74.90"},
    )
    status, _ = post_signed(stack.web_port, site, [event])
    assert status == 200

    # Then the worker credits it to the intervention
    converted = wait_until(
        lambda: Intervention.objects.filter(pk=recent.pk, converted=True).first(),
        what="the worker to attach the order",
        stack=stack,
    )
    assert (converted.order_id, converted.revenue, converted.attribution) == (
        "ord-prod-1",
        Decimal("74.900"),
        "same_cart",
    )
    assert converted.outcome_final is False
    assert "cartassist.tasks.outcomes_refresh_task" in stack.process("worker").log()

    # When the helpdesk reports that the shopper asked whether the chat was genuine
    status, body = report_follow_up(
        stack.web_port,
        site,
        {
            "id": "hd-prod-1",
            "visitor_id": "v-recent",
            "channel": "phone",
            "reason": "checking_genuine",
            "occurred_at": iso(now - timedelta(minutes=30)),
        },
    )
    # Then it is credited to that intervention
    assert (status, body["intervention_id"]) == (201, recent.pk)
    assert Intervention.objects.get(pk=recent.pk).follow_ups == 1

    # And beat has the worker finalise the intervention whose window closed
    wait_until(
        lambda: Intervention.objects.filter(pk=old.pk, outcome_final=True).exists(),
        what="beat to finalise the closed window",
        stack=stack,
    )
    assert Intervention.objects.get(pk=recent.pk).outcome_final is False
    assert "cartassist.tasks.outcomes_finalise_task" in stack.process("worker").log()
