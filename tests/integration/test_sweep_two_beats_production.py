"""The sweep at its sub-second cadence (ADR 0020) with two beat processes by mistake: the
Procfile's worker runs the sweeps both beats queue, overlapping, and every stalled cart
is decided once and every shopper invited once (ADR 0003: SKIP LOCKED claims, visitors
locked and decided again)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.models import Invitation
from cartassist.models import Cart, Intervention
from tests.fixtures.sites import make_site

from .conftest import Stack, procfile_commands, wait_until

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]

VISITORS = 30
TABS = 2  # carts per visitor: the frequency cap lets one of them invite


@pytest.fixture(scope="module")
def stack_extra_env() -> dict[str, str]:
    return {
        "CARTASSIST_SWEEP_INTERVAL_SECONDS": "0.2",
        # Invitations depend on the site's switch alone, not on a console being open.
        "CARTASSIST_AGENT_AVAILABILITY": "cartassist.carts.availability.site_setting",
    }


def test_two_beats_at_a_fifth_of_a_second_invite_each_shopper_once(
    production_stack: Stack,
) -> None:
    # given: a second beat, with a schedule file of its own
    stack = production_stack
    stack.start(
        "beat-2",
        procfile_commands()["beat"],
        CELERY_BEAT_SCHEDULE_FILE=str(stack.log_dir / "beat-2-schedule"),
    )
    site = make_site(agents_available=True)
    now = timezone.now()
    # when: carts of 30 shoppers (two tabs each) reach their deadlines over 3 s
    Cart.objects.bulk_create(
        Cart(
            site=site,
            external_id=f"cart-{v}-{t}",
            visitor_id=f"visitor-{v}",
            currency="EUR",
            subtotal=Decimal("60.00"),
            shipping_fee=Decimal("14.90"),
            stage="shipping",
            signal="shipping_quoted",
            state_at=now - timedelta(minutes=10),
            last_activity_at=now - timedelta(minutes=10),
            stall_deadline=now + timedelta(milliseconds=500 + 50 * (v * TABS + t)),
        )
        for v in range(VISITORS)
        for t in range(TABS)
    )
    wait_until(
        lambda: (
            not Cart.objects.filter(stall_deadline__isnull=False).exists()
            and Intervention.objects.count() == VISITORS * TABS
        ),
        what="every cart decided by the sweeps",
        stack=stack,
    )
    # then: one intervention per cart, one invitation per shopper
    assert Counter(Intervention.objects.values_list("cart_id", flat=True)) == Counter(
        dict.fromkeys(Cart.objects.values_list("pk", flat=True), 1)
    )
    invited = Intervention.objects.filter(decision="invited")
    assert sorted(invited.values_list("visitor_id", flat=True)) == sorted(
        f"visitor-{v}" for v in range(VISITORS)
    )
    assert Counter(Invitation.objects.values_list("visitor_id", flat=True)) == Counter(
        {f"visitor-{v}": 1 for v in range(VISITORS)}
    )
    # and both beats were queueing sweeps meanwhile
    for beat in ("beat", "beat-2"):
        assert "Sending due task stall-sweep" in stack.process(beat).log(), beat
