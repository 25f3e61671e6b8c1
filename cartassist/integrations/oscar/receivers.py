"""Placed orders: Oscar's ``order_placed`` signal → redeem the order's grants with
CartAssist, then ``order_completed`` with Oscar's order number and total.

Both happen after the order's transaction commits, so a rolled-back order is never
reported. A redemption CartAssist could not take is kept (``GrantVoucher.redeem_error``)
and retried by ``manage.py cartassist_oscar_redeem``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from cartassist.client import ApiError, ClientError

from . import events
from .conf import get_config
from .identity import cart_id
from .models import GrantVoucher, TrackedBasket
from .transport import get_client, send

logger = logging.getLogger("cartassist.integrations.oscar")


def connect() -> None:
    from oscar.apps.order.signals import order_placed

    order_placed.connect(on_order_placed, dispatch_uid="cartassist_oscar.order_placed")


def on_order_placed(sender: Any, order: Any, user: Any = None, **kwargs: Any) -> None:
    if not get_config().enabled:
        return
    order_pk = order.pk
    transaction.on_commit(lambda: report_order(order_pk))


def report_order(order_pk: int) -> None:
    from oscar.core.loading import get_model

    order = get_model("order", "Order")._default_manager.get(pk=order_pk)
    voucher_ids = order.discounts.exclude(voucher_id=None).values_list("voucher_id", flat=True)
    grants = GrantVoucher.objects.filter(voucher_id__in=list(voucher_ids))
    GrantVoucher.objects.filter(pk__in=[g.pk for g in grants]).update(
        order_number=str(order.number)
    )
    for grant in grants:
        grant.order_number = str(order.number)
        redeem(grant)
    send([events.order_completed(order_shopper(order), order)])


def order_shopper(order: Any) -> events.Shopper:
    tracked = TrackedBasket.objects.filter(basket_id=order.basket_id).first()
    if tracked is not None:
        return events.shopper_of(tracked)
    # An order placed without a tracked basket (e.g. through an API): still report it.
    fallback = f"oscar-order-{order.number}"[:64]
    return events.Shopper(cart_id=cart_id(order.basket_id or 0), visitor_id=fallback)


def redeem(grant: GrantVoucher) -> bool:
    """Redeem one grant for its order, once; True when CartAssist has it redeemed."""
    try:
        get_client().grant_redeem(
            grant.token,
            order_id=grant.order_number,
            idempotency_key=f"oscar:{grant.order_number}:{grant.grant_id}"[:128],
        )
    except ClientError as error:
        code = error.code if isinstance(error, ApiError) else None
        logger.warning(
            "CartAssist did not redeem grant %s for order %s: %s",
            grant.grant_id,
            grant.order_number,
            error,
        )
        GrantVoucher.objects.filter(pk=grant.pk).update(redeem_error=(code or str(error))[:255])
        return False
    GrantVoucher.objects.filter(pk=grant.pk).update(redeemed_at=timezone.now(), redeem_error="")
    return True
