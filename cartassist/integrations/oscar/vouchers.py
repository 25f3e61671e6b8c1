"""An accepted CartAssist grant → a native Oscar voucher for one basket.

The voucher is Oscar's own (``voucher.Voucher`` with a ``ConditionalOffer``, its
``Condition`` and ``Benefit``), so Oscar shows it in the basket and order totals, records
its use on the order, and enforces it:

- single use: ``Voucher.SINGLE_USE`` and an offer with ``max_global_applications=1``;
- expiring: the voucher and the offer end when the grant expires;
- that basket only: the offer's condition is :class:`~.conditions.GrantBasketCondition`;
- the exact benefit: ``waive_delivery`` / ``reduce_delivery`` → a shipping discount of
  the grant's amount (``Benefit.SHIPPING_ABSOLUTE``; 100 % off delivery when a waiver
  names no amount); ``discount`` → that amount off the basket (``Benefit.FIXED``).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from oscar.apps.basket.signals import voucher_addition
from oscar.apps.offer.custom import create_condition
from oscar.core.loading import get_model

from cartassist.client import GrantInfo

from .conf import get_config
from .models import GrantBasketCondition, GrantVoucher

#: The grant kinds this integration can turn into an Oscar voucher.
SUPPORTED_KINDS = frozenset({"waive_delivery", "reduce_delivery", "discount"})
CODE_ALPHABET = string.ascii_uppercase + string.digits
ALL_PRODUCTS_RANGE = "CartAssist: all products"


@dataclass(frozen=True)
class Applied:
    grant: GrantVoucher
    created: bool  # the voucher was made now (else: this grant was applied before)
    added: bool  # the voucher was added to the basket now (the page should reload)


def _benefit_fields(kind: str, amount: Decimal | None) -> dict[str, Any]:
    benefit = get_model("offer", "Benefit")
    if kind in {"waive_delivery", "reduce_delivery"}:
        if amount is None:
            return {"type": benefit.SHIPPING_PERCENTAGE, "value": Decimal(100)}
        return {"type": benefit.SHIPPING_ABSOLUTE, "value": amount}
    range_model = get_model("offer", "Range")
    everything, _ = range_model.objects.get_or_create(
        name=ALL_PRODUCTS_RANGE, defaults={"includes_all_products": True}
    )
    return {"type": benefit.FIXED, "value": amount, "range": everything}


def new_code() -> str:
    return "CA" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def create_voucher(info: GrantInfo) -> Any:
    """The voucher, its offer, condition and benefit, in Oscar's own tables."""
    offer_model = get_model("offer", "ConditionalOffer")
    voucher_model = get_model("voucher", "Voucher")
    now = timezone.now()
    ends = info.expires_at or now
    code = new_code()
    label = f"{get_config().voucher_name} ({code})"
    benefit = get_model("offer", "Benefit").objects.create(
        **_benefit_fields(info.kind, info.amount)
    )
    offer = offer_model.objects.create(
        name=label,
        description=f"CartAssist grant {info.id}: {info.kind} {info.amount} {info.currency}",
        offer_type=offer_model.VOUCHER,
        condition=create_condition(GrantBasketCondition),
        benefit=benefit,
        exclusive=False,
        start_datetime=now,
        end_datetime=ends,
        max_global_applications=1,
        max_basket_applications=1,
    )
    voucher = voucher_model.objects.create(
        name=label,
        code=code,
        usage=voucher_model.SINGLE_USE,
        start_datetime=now,
        end_datetime=ends,
    )
    voucher.offers.add(offer)
    return voucher


def apply_grant(info: GrantInfo, token: str, basket: Any, *, sender: Any = None) -> Applied:
    """Create the voucher for a verified grant (once per grant id) and add it to
    ``basket``. Calling it again for the same grant just makes sure it is in the basket."""
    with transaction.atomic():
        grant = GrantVoucher.objects.select_for_update().filter(grant_id=info.id).first()
        created = grant is None
        if grant is None:
            grant = GrantVoucher.objects.create(
                grant_id=info.id,
                token=token,
                kind=info.kind,
                amount=info.amount if info.amount is not None else Decimal(0),
                currency=info.currency,
                cart_id=info.cart_id,
                basket_id=basket.id,
                voucher=create_voucher(info),
                expires_at=info.expires_at or timezone.now(),
            )
        elif grant.token != token:
            GrantVoucher.objects.filter(pk=grant.pk).update(token=token)
        if grant.basket_id != basket.id:
            raise GrantElsewhere(grant)
        in_basket = basket.vouchers.filter(pk=grant.voucher_id).exists()
        if not in_basket:
            basket.vouchers.add(grant.voucher)
    if not in_basket:
        # As Oscar's own VoucherAddView does.
        voucher_addition.send(sender=sender, basket=basket, voucher=grant.voucher)
    return Applied(grant=grant, created=created, added=not in_basket)


class GrantElsewhere(Exception):
    """The grant was already applied to another basket."""

    def __init__(self, grant: GrantVoucher) -> None:
        super().__init__(f"grant {grant.grant_id} belongs to basket {grant.basket_id}")
        self.grant = grant
