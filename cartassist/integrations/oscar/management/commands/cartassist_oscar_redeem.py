"""``manage.py cartassist_oscar_redeem``: retry redemptions CartAssist could not take
when the order was placed (it was down, or slow). Safe to run any time, e.g. from cron:
redemption is idempotent per order."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cartassist.integrations.oscar.models import GrantVoucher
from cartassist.integrations.oscar.receivers import redeem


class Command(BaseCommand):
    help = "Redeem with CartAssist the grants used on placed Oscar orders but not yet redeemed."

    def handle(self, *args: Any, **options: Any) -> None:
        pending = GrantVoucher.objects.filter(redeemed_at=None).exclude(order_number="")
        done = sum(1 for grant in pending if redeem(grant))
        self.stdout.write(f"redeemed {done} of {len(pending)} grant(s)")
