"""Webhooks in production: beat's sweep records an intervention, the Celery worker sends
``intervention.created`` to a real receiver, which fails once; beat's redelivery pass has
the worker send it again, with the same delivery id, and it is delivered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from cartassist.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.cartassist.webhook_receiver import WebhookReceiver, documented_verifier
from tests.fixtures.agents import make_stalled_cart
from tests.fixtures.sites import make_site

from .conftest import Stack, wait_until

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def stack_extra_env() -> dict[str, str]:
    return {
        "CARTASSIST_WEBHOOK_REDELIVERY_INTERVAL_SECONDS": "1",
        "CARTASSIST_WEBHOOK_TIMEOUT_SECONDS": "5",
    }


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def test_the_worker_delivers_a_webhook_after_one_failure(
    production_stack: Stack, receiver: WebhookReceiver
) -> None:
    # given: the shop's endpoint answers 500 once, and a cart has stalled
    stack = production_stack
    site = make_site()
    WebhookEndpoint.objects.create(
        site=site, url=receiver.url, events=[WebhookEvent.INTERVENTION_CREATED]
    )
    receiver.fail_next(1, status=500)
    cart = make_stalled_cart(site)
    # when: beat's sweep decides it and the worker makes the first attempt
    delivery = wait_until(
        lambda: WebhookDelivery.objects.filter(status="retrying", attempts=1).first(),
        what="the first, failed attempt",
        stack=stack,
    )
    # and: its retry time comes (the first wait is 30 s: the test moves it forward)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    delivered = wait_until(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status="delivered").first(),
        what="the redelivery pass and the worker to deliver it",
        stack=stack,
    )
    # then
    assert (delivered.attempts, delivered.response_status) == (2, 200)
    assert [r.answered for r in receiver.requests] == [500, 200]
    assert receiver.delivery_ids() == [str(delivery.delivery_id)] * 2
    verify = documented_verifier()
    assert all(verify(site.secret, r.headers, r.body) for r in receiver.requests)
    payload = json.loads(receiver.requests[1].body)
    assert (payload["type"], payload["site"], payload["data"]["cart"]) == (
        "intervention.created",
        site.public_key,
        cart.external_id,
    )
    assert "cartassist.tasks.webhooks_redeliver_due_task" in stack.process("worker").log()
