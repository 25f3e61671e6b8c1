"""The one line a phone menu speaks about an outreach (pure, no DB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cartassist.domain.outreach_summary import GrantFacts, OutreachFacts, outreach_summary

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def grant(
    kind: str = "waive_delivery", amount: str | None = "9.90", **overrides: object
) -> GrantFacts:
    values: dict[str, object] = {
        "kind": kind,
        "amount": amount,
        "currency": "EUR",
        "expires_at": NOW + timedelta(hours=1),
        "redeemed": False,
        "order_id": "",
    }
    values.update(overrides)
    return GrantFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "said"),
    [
        (
            OutreachFacts(
                "shipping_shock", True, grant(redeemed=True, order_id="A-1042"), "A-1042"
            ),
            "Are you calling about our chat about your delivery charge? "
            "Free delivery is applied to order A-1042.",
        ),
        (
            OutreachFacts("payment_failed", True, grant("discount", "5.00"), ""),
            "Are you calling about our chat about your payment? "
            "A 5.00 EUR discount is ready for you at checkout.",
        ),
        (
            OutreachFacts(
                "coupon_rejected", True, grant("reduce_delivery", "3.00", expires_at=NOW), ""
            ),
            "Are you calling about our chat about your discount code? "
            "A 3.00 EUR delivery reduction was offered but has expired.",
        ),
        (
            OutreachFacts("idle", False, None, "B-7"),
            "Are you calling about our message about your order? Your order B-7 has been placed.",
        ),
        (
            OutreachFacts("shipping_shock", False, None, ""),
            "Are you calling about our message about your delivery charge?",
        ),
        (
            OutreachFacts("shipping_shock", True, grant("free_gift", None, redeemed=True), ""),
            "Are you calling about our chat about your delivery charge? A free gift is applied.",
        ),
    ],
)
def test_summary(facts: OutreachFacts, said: str) -> None:
    assert outreach_summary(facts, now=NOW) == said
