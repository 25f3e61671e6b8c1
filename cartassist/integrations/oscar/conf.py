"""The integration's settings: one dict, ``CARTASSIST_OSCAR``, in the shop's settings.

    CARTASSIST_OSCAR = {
        "BASE_URL": "https://cartassist.example",   # where CartAssist runs
        "SITE_KEY": "pk_…",                         # the site's public key (admin → Sites)
        "SECRET": "sk_…",                           # the site's secret: keep it out of git
    }

Everything else has a default (docs/integrations/oscar.md, "Settings").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    "BASE_URL": "",
    "SITE_KEY": "",
    "SECRET": "",
    # The widget's script; default: BASE_URL + /static/widget/cartassist.js.
    "WIDGET_URL": "",
    # Extra data-* attributes of the widget's tag, e.g. {"launcher": "true"}.
    "WIDGET_ATTRIBUTES": {},
    # Prefixes of the ids CartAssist sees: "oscar-basket-42", "oscar-user-7".
    "CART_ID_PREFIX": "oscar-basket-",
    "CUSTOMER_ID_PREFIX": "oscar-user-",
    # Calls made while a shopper waits: short, one retry. CartAssist being slow or down
    # never breaks the shop (the event is logged and dropped, the order is placed).
    "TIMEOUT": 3.0,
    "MAX_RETRIES": 1,
    # The name Oscar shows for a grant's voucher in basket and order totals.
    "VOUCHER_NAME": "Offer from our support team",
}


@dataclass(frozen=True)
class Config:
    base_url: str
    site_key: str
    secret: str
    widget_url: str
    widget_attributes: dict[str, str]
    cart_id_prefix: str
    customer_id_prefix: str
    timeout: float
    max_retries: int
    voucher_name: str

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.site_key and self.secret)


def get_config() -> Config:
    """The current settings (read on each call, so override_settings works in tests)."""
    raw = {**DEFAULTS, **getattr(settings, "CARTASSIST_OSCAR", {})}
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise ImproperlyConfigured(f"CARTASSIST_OSCAR has unknown keys: {sorted(unknown)}")
    base_url = str(raw["BASE_URL"]).rstrip("/")
    return Config(
        base_url=base_url,
        site_key=str(raw["SITE_KEY"]),
        secret=str(raw["SECRET"]),
        widget_url=str(raw["WIDGET_URL"] or (base_url + "/static/widget/cartassist.js")),
        widget_attributes={str(k): str(v) for k, v in dict(raw["WIDGET_ATTRIBUTES"]).items()},
        cart_id_prefix=str(raw["CART_ID_PREFIX"]),
        customer_id_prefix=str(raw["CUSTOMER_ID_PREFIX"]),
        timeout=float(raw["TIMEOUT"]),
        max_retries=int(raw["MAX_RETRIES"]),
        voucher_name=str(raw["VOUCHER_NAME"]),
    )
