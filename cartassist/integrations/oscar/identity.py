"""Who is shopping, in CartAssist's ids: the cart (Oscar basket), visitor and customer."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

from django.http import HttpRequest

from .conf import Config, get_config

SESSION_VISITOR_KEY = "cartassist_visitor_id"


def cart_id(basket_id: int, config: Config | None = None) -> str:
    return f"{(config or get_config()).cart_id_prefix}{basket_id}"


def visitor_id(request: HttpRequest) -> str:
    """The visitor id of this browser session; the widget is given the same one."""
    session = request.session
    value = session.get(SESSION_VISITOR_KEY)
    if not isinstance(value, str) or not value:
        value = "v-" + uuid.uuid4().hex
        session[SESSION_VISITOR_KEY] = value
    return value


def customer_id(user: Any, config: Config | None = None) -> str:
    """A logged-in shop user's customer id, or "" for a guest."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    return f"{(config or get_config()).customer_id_prefix}{user.pk}"


def customer_hmac(customer: str, config: Config | None = None) -> str:
    """Proof for the widget that the shop issued ``customer`` (docs/WIDGET.md §7)."""
    secret = (config or get_config()).secret
    return hmac.new(secret.encode(), customer.encode(), hashlib.sha256).hexdigest()
