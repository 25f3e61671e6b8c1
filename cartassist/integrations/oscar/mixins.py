"""View mixins for the Oscar views a shop forks anyway.

Every Oscar shop forks ``checkout.views.PaymentDetailsView`` to take payment
(``handle_payment``); Oscar sends no signal when payment fails, so the mixin reports it:

    from cartassist.integrations.oscar.mixins import CartAssistPaymentMixin
    from oscar.apps.checkout.views import PaymentDetailsView as OscarPaymentDetailsView

    class MyPaymentDetailsView(OscarPaymentDetailsView):
        def handle_payment(self, order_number, total, **kwargs):
            ...  # your payment provider; raise UnableToTakePayment / PaymentError

    class PaymentDetailsView(CartAssistPaymentMixin, MyPaymentDetailsView):
        pass  # the mixin first: it wraps your handle_payment
"""

from __future__ import annotations

from typing import Any

from oscar.apps.payment.exceptions import PaymentError, UnableToTakePayment

from . import events
from .identity import cart_id, customer_id, visitor_id
from .transport import send


class CartAssistPaymentMixin:
    """Reports ``payment_failed`` when ``handle_payment`` raises Oscar's payment errors
    (``UnableToTakePayment``: the card was declined…; ``PaymentError``: the provider
    failed), then lets Oscar handle the error as usual."""

    request: Any

    def handle_payment(self, order_number: str, total: Any, **kwargs: Any) -> Any:
        try:
            return super().handle_payment(order_number, total, **kwargs)  # type: ignore[misc]
        except (UnableToTakePayment, PaymentError) as error:
            self.report_payment_failure(error)
            raise

    def payment_failure_reason(self, error: Exception) -> str:
        """What CartAssist is told (≤ 200 characters); override to send a code instead."""
        return str(error) or type(error).__name__

    def report_payment_failure(self, error: Exception) -> None:
        basket = self.request.basket
        if not basket.id:
            return
        shopper = events.Shopper(
            cart_id(basket.id), visitor_id(self.request), customer_id(self.request.user)
        )
        send([events.payment_failed(shopper, self.payment_failure_reason(error))])
