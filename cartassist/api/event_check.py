"""The fast path of event validation: plain-Python checks of the serializers' rules.

docs/adr/0021. ``serializers.CartEventSerializer`` is the definition of a valid event:
the OpenAPI schema and every error message come from it. Building and running its DRF
fields costs most of a batch's CPU, so ``validate_events`` first asks ``event_checked``
here, which applies the same rules with plain checks and returns exactly the dict the
serializer would return, or ``None`` when it is not certain the event is valid. ``None``
is no verdict: the event then goes through the serializer, which accepts it or says what
is wrong, field by field. So this module only has to be right about what it accepts:
anything unusual (surrounding whitespace, numbers sent as text or text as numbers,
contacts, a bad value of any kind) is left to the serializer.

``tests/cartassist/test_event_check.py`` checks on random valid and invalid events that
whatever this accepts, the serializer accepts with the same result.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cartassist.carts.models import EventType
from cartassist.core.signing import customer_identity_hmac
from policies.engine.money import CURRENCY_EXPONENTS, MoneyError, parse_amount

# serializers.ID_PATTERN without "^…$": re.fullmatch does not let "$" match before a
# trailing newline.
_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_HEX = re.compile(r"[0-9A-Fa-f]{1,128}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_EVENT_TYPES = frozenset(EventType.values)
_STEPS = frozenset({"contact", "shipping", "payment"})
_SEGMENTS = frozenset({"", "vip"})
# Fields only the serializer handles (contacts and names need their own normalising and
# their widget refusals): an event carrying any of them goes through it.
_SERIALIZER_ONLY = ("email", "phone", "customer_name")


class _Unsure(Exception):
    """Not certain the value is valid: leave the event to the serializer."""


def event_checked(
    raw: Any, *, site: Any, trusted: bool, now: datetime, zone: tzinfo | None = None
) -> dict[str, Any] | None:
    """``raw`` validated as ``CartEventSerializer`` validates it (same dict, same key
    order), or ``None`` when the serializer must decide. ``zone``: the current time
    zone, when the caller has it for a whole batch (looking it up is a thread-local
    read per event otherwise)."""
    try:
        return _event(raw, site=site, trusted=trusted, now=now, zone=zone)
    except (_Unsure, MoneyError, LookupError, TypeError, ValueError, OverflowError):
        return None


def _event(
    raw: Any, *, site: Any, trusted: bool, now: datetime, zone: tzinfo | None
) -> dict[str, Any]:
    if type(raw) is not dict or any(name in raw for name in _SERIALIZER_ONLY):
        raise _Unsure
    event: dict[str, Any] = {
        "id": _id(raw["id"]),
        "type": _choice(raw["type"], _EVENT_TYPES),
        "occurred_at": _occurred_at(raw["occurred_at"], now=now, zone=zone),
        "cart_id": _id(raw["cart_id"]),
        "visitor_id": _id(raw["visitor_id"]),
    }
    customer_id = _id(raw["customer_id"]) if "customer_id" in raw else None
    if customer_id is not None:
        event["customer_id"] = customer_id
    sent_hmac = raw.get("customer_hmac")
    if "customer_hmac" in raw and not (type(sent_hmac) is str and _HEX.fullmatch(sent_hmac)):
        raise _Unsure
    data = raw.get("data", {})
    if type(data) is not dict:
        raise _Unsure
    event["data"] = _DATA[event["type"]](data)
    event["customer_verified"] = _customer_verified(
        customer_id, sent_hmac, site=site, trusted=trusted, now=now
    )
    return event


def _id(value: Any) -> str:
    if type(value) is not str or not _ID.fullmatch(value):
        raise _Unsure
    return value


def _choice(value: Any, choices: frozenset[str]) -> str:
    if type(value) is not str or value not in choices:
        raise _Unsure
    return value


def _text(value: Any, *, max_length: int, blank: bool = False) -> str:
    """A ``CharField``: text within ``max_length``, no NUL or surrogates; trimmed text
    and numbers (which the field turns into text) are the serializer's."""
    if (
        type(value) is not str
        or len(value) > max_length
        or (not value and not blank)
        or value != value.strip()
        or "\x00" in value
        or (not value.isascii() and _SURROGATE.search(value))
    ):
        raise _Unsure
    return value


def _occurred_at(value: Any, *, now: datetime, zone: tzinfo | None) -> datetime:
    """``StrictDateTimeField`` and ``validate_occurred_at``: ISO 8601 with an offset, in
    the current time zone (as DRF's ``enforce_timezone``), within the accepted window."""
    if type(value) is not str or value != value.strip():
        raise _Unsure
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise _Unsure
    parsed = parsed.astimezone(zone or timezone.get_current_timezone())
    if parsed > now + settings.CARTASSIST_MAX_CLOCK_SKEW:
        raise _Unsure
    if parsed < now - settings.CARTASSIST_MAX_EVENT_AGE:
        raise _Unsure
    return parsed


def _money(value: Any, currency: str) -> Decimal:
    """``MoneyAmountField`` then ``_MoneyCheckMixin``: exact in ``currency``."""
    if type(value) not in (str, int):
        raise _Unsure  # Decimal (a JSON number with a fraction) and the rest: the serializer's
    if type(value) is str and value != value.strip():
        raise _Unsure
    return parse_amount(value, currency)


def _currency(data: dict[str, Any]) -> str:
    return _choice(data["currency"], _CURRENCIES)


_CURRENCIES = frozenset(CURRENCY_EXPONENTS)


def _line(line: Any, currency: str) -> dict[str, Any]:
    if type(line) is not dict:
        raise _Unsure
    quantity = line["quantity"]
    if type(quantity) is not int or not 1 <= quantity <= 100_000:
        raise _Unsure
    return {
        "sku": _text(line["sku"], max_length=64),
        "name": _text(line["name"], max_length=200),
        "quantity": quantity,
        "unit_price": _money(line["unit_price"], currency),
        "category": _text(line.get("category", ""), max_length=64, blank=True),
    }


def _cart_updated(data: dict[str, Any]) -> dict[str, Any]:
    currency = _currency(data)
    lines = data["lines"]
    if type(lines) is not list or len(lines) > 200:
        raise _Unsure
    return {
        "currency": currency,
        "subtotal": _money(data["subtotal"], currency),
        "lines": [_line(line, currency) for line in lines],
        "customer_segment": _choice(data.get("customer_segment", ""), _SEGMENTS),
    }


def _checkout_step(data: dict[str, Any]) -> dict[str, Any]:
    return {"step": _choice(data["step"], _STEPS)}


def _shipping_quoted(data: dict[str, Any]) -> dict[str, Any]:
    currency = _currency(data)
    country = _text(data.get("country", ""), max_length=2, blank=True)
    if country and not _COUNTRY.fullmatch(country):
        raise _Unsure
    return {
        "currency": currency,
        "fee": _money(data["fee"], currency),
        "method": _text(data.get("method", ""), max_length=64, blank=True),
        "country": country,
    }


def _payment_failed(data: dict[str, Any]) -> dict[str, Any]:
    return {"reason": _text(data.get("reason", ""), max_length=200, blank=True)}


def _coupon_rejected(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": _text(data["code"], max_length=64)}


def _order_completed(data: dict[str, Any]) -> dict[str, Any]:
    currency = _currency(data)
    return {
        "order_id": _id(data["order_id"]),
        "currency": currency,
        "total": _money(data["total"], currency),
    }


def _opted_out(data: dict[str, Any]) -> dict[str, Any]:
    return {}


# serializers.DATA_SERIALIZERS, field by field.
_DATA: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    EventType.CART_UPDATED: _cart_updated,
    EventType.CHECKOUT_STEP: _checkout_step,
    EventType.SHIPPING_QUOTED: _shipping_quoted,
    EventType.PAYMENT_FAILED: _payment_failed,
    EventType.COUPON_REJECTED: _coupon_rejected,
    EventType.ORDER_COMPLETED: _order_completed,
    EventType.OPTED_OUT: _opted_out,
}


def _customer_verified(
    customer_id: str | None, sent: str | None, *, site: Any, trusted: bool, now: datetime
) -> bool:
    """``CartEventSerializer._customer_is_verified``; a refusal is the serializer's."""
    if not customer_id:
        return False
    if trusted:
        return True
    if sent and any(
        hmac.compare_digest(customer_identity_hmac(secret, customer_id), sent)
        for secret in site.valid_secrets(now)
    ):
        return True
    raise _Unsure
