"""The demo storefront at /demo/ (embedded mode; ``CARTASSIST_DEMO_ENABLED``).

A small shop that embeds the CartAssist widget exactly as a real shop would: the queue
stub and one ``<script data-site-key>`` tag (templates/demo/base.html). Everything else
is the shop's own code, like any shop's:

- Pages are GET views and change nothing. A page whose *view* is an event (a checkout
  step, the delivery charge it quotes) lists it in ``page_events``; static/demo/demo.js
  passes those to ``CartAssist.track`` when the page loads.
- Every change is a POST. Without JavaScript it answers with a redirect. With
  ``Accept: application/json`` (demo.js) it answers ``{"redirect": url, "track": [events]}``:
  the script tracks the events, then follows the redirect.
- A remedy an agent granted in the chat arrives as the widget's ``cartassist:grant``
  event; demo.js posts its token to ``grant_apply``, which verifies it and keeps it in
  the basket; ``checkout_pay`` redeems it for the order (docs/WIDGET.md).

A real shop's backend verifies and redeems a grant through CartAssist's signed HTTP API
(``POST /api/v1/server/grants/verify`` and ``…/redeem``, HMAC with the site's secret).
The demo shop runs inside the CartAssist process, so it calls the same services those
endpoints call (``grant_verify``, ``grant_redeem``) instead of signing requests to itself.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cartassist.carts.models import Site
from policies.services.grants import GrantError, grant_redeem, grant_verify

from . import catalogue
from .basket import Basket, new_order_id, order_of
from .seed import DEMO_SITE_KEY

DECLINED_TEST_CARD = "4000000000000002"
WIDGET_PATH = "widget/cartassist.js"

Event = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------


def _event(type: str, basket_id: str, **data: Any) -> Event:
    return {"type": type, "cart_id": basket_id, "data": data}


def _page(
    request: HttpRequest,
    template: str,
    basket: Basket,
    *,
    page_events: list[Event] | None = None,
    status: int = 200,
    **context: Any,
) -> HttpResponse:
    context.update(
        basket=basket,
        categories=catalogue.CATEGORIES,
        currency=catalogue.CURRENCY,
        page_events=page_events or [],
        site_key=DEMO_SITE_KEY,
        # The stable (unhashed) URL, as a shop would paste it into its own templates.
        widget_url=request.build_absolute_uri(settings.STATIC_URL + WIDGET_PATH),
    )
    return render(request, f"demo/{template}", context, status=status)


def _answer(
    request: HttpRequest, redirect_to: str, track: list[Event] | None = None
) -> HttpResponse:
    """The answer to a POST: a redirect, or for demo.js the events to track and where to go."""
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"redirect": redirect_to, "track": track or []})
    return HttpResponseRedirect(redirect_to)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _quantity(raw: str | None, *, minimum: int) -> int | None:
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if minimum <= value <= catalogue.MAX_QUANTITY else None


def _cart_updated(basket: Basket) -> Event:
    return {
        "type": "cart_updated",
        "cart_id": basket.id,
        "data": catalogue.cart_updated_data(basket.lines),
    }


# --- browsing --------------------------------------------------------------------------


@require_GET
def shop(request: HttpRequest) -> HttpResponse:
    category = request.GET.get("category", "")
    products = [p for p in catalogue.PRODUCTS if not category or p.category == category]
    if category and category not in catalogue.CATEGORIES:
        raise Http404("No such category")
    return _page(
        request, "shop.html", Basket.of(request.session), products=products, category=category
    )


@require_GET
def product(request: HttpRequest, sku: str) -> HttpResponse:
    item = catalogue.product_by_sku(sku)
    if item is None:
        raise Http404("No such product")
    return _page(request, "product.html", Basket.of(request.session), product=item)


# --- cart ------------------------------------------------------------------------------


@require_GET
def cart(request: HttpRequest) -> HttpResponse:
    return _page(request, "cart.html", Basket.of(request.session))


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    basket = Basket.of(request.session)
    item = catalogue.product_by_sku(request.POST.get("sku", ""))
    quantity = _quantity(request.POST.get("quantity", "1"), minimum=1)
    back = _safe_next(request, reverse("demo:shop"))
    if item is None or quantity is None:
        messages.error(request, "That product or quantity is not available.")
        return _answer(request, back)
    basket.set_quantity(item.sku, basket.quantities.get(item.sku, 0) + quantity)
    basket.save()
    messages.success(request, f"Added {item.name} to your cart.")
    return _answer(request, back, [_cart_updated(basket)])


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    basket = Basket.of(request.session)
    sku = request.POST.get("sku", "")
    quantity = _quantity(request.POST.get("quantity"), minimum=0)
    if sku not in basket.quantities or quantity is None:
        messages.error(request, "That line is not in your cart.")
        return _answer(request, reverse("demo:cart"))
    basket.set_quantity(sku, quantity)
    basket.save()
    return _answer(request, reverse("demo:cart"), [_cart_updated(basket)])


@require_POST
def cart_coupon(request: HttpRequest) -> HttpResponse:
    """Every code is refused: the demo shows the "coupon rejected" stall."""
    basket = Basket.of(request.session)
    code = request.POST.get("code", "").strip().upper()[:64]
    if not code:
        messages.error(request, "Enter a code.")
        return _answer(request, reverse("demo:cart"))
    messages.error(request, f"The code {code} is not valid or has expired.")
    track = [_event("coupon_rejected", basket.id, code=code)] if basket.id else []
    return _answer(request, reverse("demo:cart"), track)


# --- checkout --------------------------------------------------------------------------


class ContactForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=200)
    name = forms.CharField(label="Full name", max_length=100)


class ShippingForm(forms.Form):
    address = forms.CharField(label="Street and number", max_length=200)
    postcode = forms.CharField(label="Postcode", max_length=12)
    city = forms.CharField(label="City", max_length=100)
    country = forms.ChoiceField(
        label="Country",
        choices=[("DE", "Germany"), ("AT", "Austria"), ("NL", "Netherlands"), ("FR", "France")],
    )
    method = forms.ChoiceField(
        label="Delivery", choices=[("standard", "Standard"), ("express", "Express")]
    )


class PaymentForm(forms.Form):
    card_number = forms.CharField(label="Card number", max_length=23)

    def clean_card_number(self) -> str:
        digits = self.cleaned_data["card_number"].replace(" ", "").replace("-", "")
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            raise forms.ValidationError("Enter the 12–19 digits of a card number.")
        return digits


def _checkout_guard(basket: Basket, step: str) -> HttpResponse | None:
    """Send the shopper back to the first step they have not completed."""
    if not basket.lines:
        return redirect("demo:cart")
    if step in {"shipping", "payment"} and not basket.contact:
        return redirect("demo:checkout-contact")
    if step == "payment" and not basket.delivery:
        return redirect("demo:checkout-shipping")
    return None


@require_http_methods(["GET", "POST"])
def checkout_contact(request: HttpRequest) -> HttpResponse:
    basket = Basket.of(request.session)
    if guard := _checkout_guard(basket, "contact"):
        return guard
    form = ContactForm(request.POST or None, initial=basket.contact)
    if request.method == "POST" and form.is_valid():
        basket.contact = form.cleaned_data
        basket.save()
        return redirect("demo:checkout-shipping")
    return _page(
        request,
        "contact.html",
        basket,
        form=form,
        step="contact",
        page_events=[_event("checkout_step", basket.id, step="contact")],
    )


@require_http_methods(["GET", "POST"])
def checkout_shipping(request: HttpRequest) -> HttpResponse:
    basket = Basket.of(request.session)
    if guard := _checkout_guard(basket, "shipping"):
        return guard
    initial = dict(basket.shipping or {"method": "standard", "country": "DE"})
    form = ShippingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        basket.shipping = form.cleaned_data
        basket.save()
        return redirect("demo:checkout-payment")
    options = catalogue.delivery_options(basket.subtotal)
    chosen_method = form["method"].value() or "standard"
    chosen = next((o for o in options if o.method == chosen_method), options[0])
    reduction = basket.reduction_for(chosen.fee)
    return _page(
        request,
        "shipping.html",
        basket,
        form=form,
        step="shipping",
        options=options,
        chosen=chosen,
        grant_reduction=reduction,
        total=basket.subtotal + chosen.fee - reduction,
        free_from=catalogue.FREE_STANDARD_DELIVERY_FROM,
        page_events=[
            _event("checkout_step", basket.id, step="shipping"),
            _event(
                "shipping_quoted",
                basket.id,
                currency=catalogue.CURRENCY,
                fee=catalogue.money(chosen.fee),
                method=chosen.method,
                country=form["country"].value() or "DE",
            ),
        ],
    )


@require_GET
def checkout_payment(request: HttpRequest) -> HttpResponse:
    basket = Basket.of(request.session)
    if guard := _checkout_guard(basket, "payment"):
        return guard
    return _page(
        request,
        "payment.html",
        basket,
        form=PaymentForm(),
        step="payment",
        declined_card="4000 0000 0000 0002",
        page_events=[_event("checkout_step", basket.id, step="payment")],
    )


@require_POST
def checkout_pay(request: HttpRequest) -> HttpResponse:
    basket = Basket.of(request.session)
    if guard := _checkout_guard(basket, "payment"):
        return _answer(request, guard["Location"])
    form = PaymentForm(request.POST)
    payment_page = reverse("demo:checkout-payment")
    if not form.is_valid():
        messages.error(request, str(form.errors["card_number"][0]))
        return _answer(request, payment_page)
    if form.cleaned_data["card_number"] == DECLINED_TEST_CARD:
        messages.error(request, "Your card was declined. Try another card.")
        return _answer(
            request, payment_page, [_event("payment_failed", basket.id, reason="card_declined")]
        )
    order_id = new_order_id()
    if basket.grant:
        try:
            _grant_redeem(basket, order_id)
        except GrantError as error:
            # Never charge a total the shopper did not see: drop the grant and show
            # the full total again.
            basket.grant = None
            basket.save()
            messages.error(request, f"Our agent's offer could not be applied: {error.message}")
            return _answer(request, payment_page)
    order = basket.place_order(order_id)
    return _answer(
        request,
        reverse("demo:order", args=[order["id"]]),
        [
            _event(
                "order_completed",
                order["cart_id"],
                order_id=order["id"],
                currency=order["currency"],
                total=order["total"],
            )
        ],
    )


@require_GET
def order(request: HttpRequest, order_id: str) -> HttpResponse:
    placed = order_of(request.session, order_id)
    if placed is None:
        raise Http404("No such order in this session")
    return _page(request, "order.html", Basket.of(request.session), order=placed)


# --- grants from CartAssist ------------------------------------------------------------


def _demo_site() -> Site:
    return Site.objects.get(public_key=DEMO_SITE_KEY)


def _grant_redeem(basket: Basket, order_id: str) -> None:
    """Redeem the basket's grant for ``order_id`` (idempotency key: the order id, so a
    retried payment gets the original answer). A real shop: POST …/grants/redeem."""
    assert basket.grant is not None
    grant_redeem(
        site=_demo_site(),
        token=basket.grant["token"],
        order_id=order_id,
        idempotency_key=order_id,
        now=timezone.now(),
    )


def _refuse(message: str, status: int) -> JsonResponse:
    return JsonResponse({"applied": False, "detail": message}, status=status)


@require_POST
def grant_apply(request: HttpRequest) -> HttpResponse:
    """Keep a grant the widget handed to the page, once verified as a shop would:
    issued by CartAssist for this site, for this very cart, not redeemed, not expired."""
    basket = Basket.of(request.session)
    token = request.POST.get("token", "")
    if not basket.id or not basket.lines:
        return _refuse("Your cart is empty.", 409)
    now = timezone.now()
    try:
        grant = grant_verify(site=_demo_site(), token=token, now=now)
    except GrantError as error:
        return _refuse(error.message, error.status)
    if grant.cart.external_id != basket.id:
        return _refuse("This offer was made for another cart.", 409)
    if grant.redeemed_at is not None or grant.expires_at <= now:
        return _refuse("This offer has expired or was already used.", 410)
    if grant.currency != catalogue.CURRENCY:
        return _refuse("This offer is in another currency.", 409)
    basket.grant = {
        "token": token,
        "kind": grant.kind,
        "amount": None if grant.amount is None else catalogue.money(grant.amount),
        "currency": grant.currency,
        "expires_at": grant.expires_at.isoformat(),
    }
    basket.save()
    return JsonResponse(
        {
            "applied": True,
            "kind": grant.kind,
            "amount": basket.grant["amount"],
            "currency": grant.currency,
            "label": basket.grant_label,
        }
    )
