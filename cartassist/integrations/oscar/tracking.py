"""The middleware: what each shop request changed, as server events.

Oscar sends signals for few of these (``basket_addition`` only for additions, nothing for
quantity changes, removals, checkout steps or refused vouchers), so the middleware looks
at the result of each request instead, and reports what changed since it last reported:

- ``cart_updated``: the basket's lines, prices or vouchers changed (any view: add,
  quantity, remove, voucher, merge on log-in); the whole basket with Oscar's totals;
- ``checkout_step``: a checkout page was shown (index → contact; shipping address and
  method → shipping; payment method, details and preview → payment);
- ``shipping_quoted``: the delivery charge shown changed (the chosen method's, or the
  cheapest one offered on the shipping method page), before any CartAssist waiver;
- ``coupon_rejected``: a voucher code was posted and is not in the basket afterwards.

``payment_failed`` comes from :class:`~.mixins.CartAssistPaymentMixin`, ``order_completed``
from Oscar's ``order_placed`` signal (receivers.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from . import events
from .conf import get_config
from .identity import cart_id, customer_id, visitor_id
from .models import TrackedBasket
from .transport import send

logger = logging.getLogger("cartassist.integrations.oscar")

#: Oscar's checkout views (URL names) and the CartAssist step each one is.
CHECKOUT_STEPS = {
    "checkout:index": "contact",
    "checkout:shipping-address": "shipping",
    "checkout:shipping-method": "shipping",
    "checkout:payment-method": "payment",
    "checkout:payment-details": "payment",
    "checkout:preview": "payment",
}
#: Pages that show a delivery charge.
QUOTING_VIEWS = frozenset(
    {
        "checkout:shipping-method",
        "checkout:payment-method",
        "checkout:payment-details",
        "checkout:preview",
    }
)
VOUCHER_ADD_VIEW = "basket:vouchers-add"


class CartAssistMiddleware:
    """Add after ``oscar.apps.basket.middleware.BasketMiddleware`` in ``MIDDLEWARE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if get_config().enabled:
            try:
                track(request, response)
            except Exception:
                # Reporting must never break the shop's page.
                logger.exception("CartAssist: reporting this request failed")
        return response


def loaded_basket(request: HttpRequest) -> Any:
    """The request's basket if this request used it and it is open, else None (a page
    that never touched the basket costs no query)."""
    basket = getattr(request, "basket", None)
    if basket is None:
        return None
    if isinstance(basket, SimpleLazyObject) and basket._wrapped is empty:
        return None
    if not basket.id or basket.status != getattr(basket, "OPEN", "Open"):
        return None
    return basket


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None else ""


def track(request: HttpRequest, response: HttpResponse) -> None:
    basket = loaded_basket(request)
    if basket is None:
        return
    tracked = _tracked(request, basket)
    view = _view_name(request)
    shown = request.method == "GET" and response.status_code == 200
    pending: list[Any] = []
    changes: dict[str, str] = {}
    shopper = events.Shopper(cart_id(basket.id), tracked.visitor_id, tracked.customer_id)

    fingerprint = events.basket_fingerprint(basket.id)
    if fingerprint != tracked.fingerprint and not _new_and_empty(tracked, basket):
        pending.append(events.cart_updated(shopper, fresh_basket(request, basket.id)))
        changes["fingerprint"] = fingerprint
    step = CHECKOUT_STEPS.get(view) if shown else None
    if step and step != tracked.step:
        pending.append(events.checkout_step(shopper, step))
        changes["step"] = step
    quote = shown_quote(request, basket) if shown and view in QUOTING_VIEWS else None
    if quote is not None and quote.key != tracked.quote:
        pending.append(events.shipping_quoted(shopper, quote))
        changes["quote"] = quote.key
    if request.method == "POST" and view == VOUCHER_ADD_VIEW:
        code = rejected_code(request, basket)
        if code:
            pending.append(events.coupon_rejected(shopper, code))
    if pending and send(pending) is not None and changes:
        TrackedBasket.objects.filter(pk=tracked.pk).update(**changes)


def _new_and_empty(tracked: TrackedBasket, basket: Any) -> bool:
    """A logged-in customer's basket exists before anything is in it: not a cart yet."""
    return not tracked.fingerprint and not basket.lines.exists()


def _tracked(request: HttpRequest, basket: Any) -> TrackedBasket:
    visitor = visitor_id(request)
    customer = customer_id(request.user)
    tracked, created = TrackedBasket.objects.get_or_create(
        basket_id=basket.id, defaults={"visitor_id": visitor, "customer_id": customer}
    )
    if not created and (tracked.visitor_id, tracked.customer_id) != (visitor, customer):
        tracked.visitor_id, tracked.customer_id = visitor, customer
        TrackedBasket.objects.filter(pk=tracked.pk).update(visitor_id=visitor, customer_id=customer)
    return tracked


def fresh_basket(request: HttpRequest, basket_id: int) -> Any:
    """The basket as the database has it now, with Oscar's offers applied (the view may
    have changed lines after the middleware loaded it)."""
    from oscar.core.loading import get_class, get_model

    basket = get_model("basket", "Basket")._default_manager.get(pk=basket_id)
    basket.strategy = request.strategy  # type: ignore[attr-defined]
    get_class("offer.applicator", "Applicator")().apply(basket, request.user, request)
    return basket


def shown_quote(request: HttpRequest, basket: Any) -> events.Quote | None:
    """The delivery charge the page shows: the chosen method's, or else the cheapest
    method's on the shipping method page. Undiscounted: a CartAssist waiver is reported
    as the grant's redemption, not as a cheaper delivery."""
    from oscar.core.loading import get_class

    session = get_class("checkout.session", "CheckoutSessionMixin")()
    session.request = request
    session.checkout_session = get_class("checkout.utils", "CheckoutSessionData")(request)
    address = session.get_shipping_address(basket)
    if address is None and basket.is_shipping_required():
        return None
    method = session.get_shipping_method(basket, address)
    if method is None:
        methods = get_class("shipping.repository", "Repository")().get_shipping_methods(
            basket, shipping_addr=address, request=request, user=request.user
        )
        charged = [(_charge(m, basket), m) for m in methods]
        if not charged:
            return None
        fee, method = min(charged, key=lambda pair: pair[0][0])
    else:
        fee = _charge(method, basket)
    country = getattr(getattr(address, "country", None), "iso_3166_1_a2", "") or ""
    return events.Quote(method=str(method.code), fee=fee[0], currency=fee[1], country=country)


def _charge(method: Any, basket: Any) -> tuple[Any, str]:
    base = getattr(method, "method", method)  # Oscar wraps discounted methods
    price = base.calculate(basket)
    amount = price.incl_tax if price.is_tax_known else price.excl_tax
    return amount, price.currency


def rejected_code(request: HttpRequest, basket: Any) -> str:
    """The voucher code posted, if it did not end up in the basket (Oscar refused it: no
    such code, expired, used up, or the basket does not qualify)."""
    code = str(request.POST.get("code", "")).strip().upper()
    if not code or basket.vouchers.filter(code=code).exists():
        return ""
    return code
