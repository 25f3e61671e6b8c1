from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cartassist.flows.sweep import stall_sweep
from cartassist.models import Cart, CartEvent, Intervention
from tests.fixtures.carts import make_event


def test_events_then_sweep_records_shipping_shock(post_events, site):
    # given
    events = [
        make_event("cart_updated"),
        make_event("checkout_step", data={"step": "shipping"}),
        make_event("shipping_quoted"),
    ]
    # when
    response = post_events.widget(events)
    result = stall_sweep(now=timezone.now() + timedelta(minutes=6))
    # then
    assert response.status_code == 200, response.json()
    assert response.json() == {"stored": [e["id"] for e in events], "duplicates": []}
    assert CartEvent.objects.count() == 3
    cart = Cart.objects.get()
    assert cart.stage == "shipping"
    assert result.claimed == 1
    intervention = Intervention.objects.get()
    assert (intervention.decision, intervention.stall_reason) == ("invited", "shipping_shock")
