"""``{% load cartassist_oscar %}{% cartassist_widget %}``: the widget in the shop's pages.

Put it once in the shop's base template (Oscar: ``{% block extrascripts %}`` of your
``oscar/base.html``); it needs ``request`` in the context (Django's request context
processor, which Oscar's settings already have).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.middleware.csrf import get_token
from django.urls import reverse

from ..conf import get_config
from ..identity import cart_id, customer_hmac, customer_id, visitor_id
from ..tracking import loaded_basket

register = template.Library()

# What the open chat must never cover in Oscar's own templates (docs/WIDGET.md, "Keeping
# the checkout visible"): the basket and order totals, the checkout and place-order
# buttons. A shop with its own templates sets CARTASSIST_OSCAR["WIDGET_ATTRIBUTES"]
# ["keep-visible"] to its selectors.
OSCAR_KEEP_VISIBLE = (
    "#basket_totals, #place-order, .basket-totals, "
    'a[href$="/checkout/"], form#place_order_form button[type="submit"]'
)


@register.inclusion_tag("cartassist_oscar/widget.html", takes_context=True)
def cartassist_widget(context: template.Context) -> dict[str, Any]:
    config = get_config()
    request = context.get("request")
    if request is None or not config.enabled:
        return {"enabled": False}
    basket = getattr(request, "basket", None)
    basket = basket if basket is not None and basket.id else None
    attributes = {
        "site-key": config.site_key,
        "visitor-id": visitor_id(request),
        "keep-visible": OSCAR_KEEP_VISIBLE,
        **config.widget_attributes,
    }
    customer = customer_id(request.user, config)
    if customer:
        attributes["customer-id"] = customer
        attributes["customer-hmac"] = customer_hmac(customer, config)
    if basket is not None and not basket.is_empty and loaded_basket(request) is not None:
        # The shop reports the basket by server events, not the widget's track(): tell
        # the widget to connect the chat while there is a basket to talk about.
        attributes.setdefault("chat", "always")
    return {
        "enabled": True,
        "widget_url": config.widget_url,
        "attributes": sorted(attributes.items()),
        "cart_id": cart_id(basket.id, config) if basket is not None else "",
        "apply_url": reverse("cartassist_oscar:apply-grant"),
        "csrf_token": get_token(request),
    }
