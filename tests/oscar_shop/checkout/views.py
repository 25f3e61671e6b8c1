"""The sandbox's payment: a dummy that always succeeds, except for a guest whose email
contains ``decline`` (e.g. ``ada+decline@example.com``): their card is "declined".

CartAssist's mixin goes first, in front of the class that takes payment, so that it
wraps ``handle_payment`` (docs/integrations/oscar.md, "Payment failures")."""

from oscar.apps.checkout.views import PaymentDetailsView as OscarPaymentDetailsView
from oscar.apps.payment.exceptions import UnableToTakePayment

from cartassist.integrations.oscar.mixins import CartAssistPaymentMixin


class DummyPaymentDetailsView(OscarPaymentDetailsView):
    def handle_payment(self, order_number, total, **kwargs):
        email = self.checkout_session.get_guest_email() or self.request.user.email or ""
        if "decline" in email:
            raise UnableToTakePayment("card_declined: your card was declined")
        return super().handle_payment(order_number, total, **kwargs)


class PaymentDetailsView(CartAssistPaymentMixin, DummyPaymentDetailsView):
    pass
