"""Cart event validation: every event type, every field, with field-level messages.

Serializers only validate and normalise; storing and folding events into cart state is
``services.ingest.cart_events_ingest``.
"""

from __future__ import annotations

import hmac
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from cartassist.carts.models import EventType
from cartassist.core.signing import customer_identity_hmac
from cartassist.domain.contacts import (
    EMAIL,
    MAX_EMAIL_LENGTH,
    PHONE,
    ContactError,
    normalise_contact,
)
from policies.engine.money import CURRENCY_EXPONENTS, MoneyError, parse_amount, parse_decimal

from .event_check import event_checked

ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,64}$"
id_validator = RegexValidator(
    ID_PATTERN, "Use 1–64 characters: letters, digits, '.', '_', ':' or '-'."
)


class StrictCharField(serializers.CharField):
    """A CharField that refuses JSON numbers instead of turning them into strings."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def IdField(**kwargs: Any) -> serializers.CharField:  # noqa: N802 - reads like a field class
    return StrictCharField(max_length=64, validators=[id_validator], **kwargs)


class MoneyAmountField(serializers.Field):
    """A non-negative decimal amount, sent as a string ("12.50") or a JSON number.

    Exactness per currency (decimal places) is checked by the enclosing serializer,
    which knows the currency.
    """

    default_error_messages = {"invalid": 'Enter a decimal amount such as "12.50".'}

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            # The decimal places are checked in the event's own currency by
            # _MoneyCheckMixin, which knows it.
            return parse_decimal(data)
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: Decimal) -> str:
        return str(value)


class StrictDateTimeField(serializers.DateTimeField):
    """An ISO 8601 timestamp with an explicit UTC offset; naive timestamps are refused."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise serializers.ValidationError("Enter an ISO 8601 timestamp string.")
        parsed = super().to_internal_value(value)
        # DRF makes a naive timestamp aware in the default zone; refuse it instead. Read
        # the offset from the text itself (a date-only "2026-11-23" has none; "+0100" has).
        as_sent = parse_datetime(value.strip())
        if as_sent is None or as_sent.tzinfo is None:
            raise serializers.ValidationError(
                "Include a UTC offset, e.g. 2026-11-23T10:15:00Z or +01:00."
            )
        return parsed


class CurrencyField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=sorted(CURRENCY_EXPONENTS), **kwargs)
        self.error_messages["invalid_choice"] = "Unknown currency {input!r}: use an ISO 4217 code."


class _MoneyCheckMixin:
    money_fields: tuple[str, ...] = ()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        currency = attrs["currency"]
        errors: dict[str, Any] = {}
        for name in self.money_fields:
            if name in attrs:
                try:
                    attrs[name] = parse_amount(attrs[name], currency)
                except MoneyError as exc:
                    errors[name] = [str(exc)]
        for index, line in enumerate(attrs.get("lines", [])):
            try:
                line["unit_price"] = parse_amount(line["unit_price"], currency)
            except MoneyError as exc:
                errors.setdefault("lines", {})[str(index)] = {"unit_price": [str(exc)]}
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CartLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = MoneyAmountField()
    category = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


class CartUpdatedData(_MoneyCheckMixin, serializers.Serializer):
    money_fields = ("subtotal",)
    currency = CurrencyField()
    subtotal = MoneyAmountField()
    # many=True makes a ListSerializer, whose max_length the stubs do not know.
    lines = CartLineSerializer(many=True, max_length=200, allow_empty=True)  # type: ignore[call-arg]
    customer_segment = serializers.ChoiceField(
        choices=["", "vip"],
        required=False,
        default="",
        help_text="Server events only (ignored from the widget): the customer's segment.",
    )


class CheckoutStepData(serializers.Serializer):
    step = serializers.ChoiceField(choices=["contact", "shipping", "payment"])


class ShippingQuotedData(_MoneyCheckMixin, serializers.Serializer):
    money_fields = ("fee",)
    currency = CurrencyField()
    fee = MoneyAmountField()
    method = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    country = serializers.RegexField(
        r"^[A-Z]{2}$",
        required=False,
        default="",
        allow_blank=True,
        help_text="Shipping country, ISO 3166-1 alpha-2 (e.g. DE).",
        error_messages={"invalid": "Use a two-letter ISO 3166 country code such as DE."},
    )


class PaymentFailedData(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class CouponRejectedData(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class OrderCompletedData(_MoneyCheckMixin, serializers.Serializer):
    money_fields = ("total",)
    order_id = IdField()
    currency = CurrencyField()
    total = MoneyAmountField()


class OptedOutData(serializers.Serializer):
    pass


DATA_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    EventType.CART_UPDATED: CartUpdatedData,
    EventType.CHECKOUT_STEP: CheckoutStepData,
    EventType.SHIPPING_QUOTED: ShippingQuotedData,
    EventType.PAYMENT_FAILED: PaymentFailedData,
    EventType.COUPON_REJECTED: CouponRejectedData,
    EventType.ORDER_COMPLETED: OrderCompletedData,
    EventType.OPTED_OUT: OptedOutData,
}


class ContactField(StrictCharField):
    """An email or phone (cartassist/domain/contacts.py), normalised; refused from the
    widget, whose events are unsigned and so could name anyone's address."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)
        self.kind = kind

    def to_internal_value(self, data: Any) -> str:
        if not self.context.get("trusted"):
            raise serializers.ValidationError(
                f"Only signed server events may carry {'an' if self.kind == EMAIL else 'a'} "
                f"{self.kind}: widget events are not authenticated."
            )
        value = super().to_internal_value(data)
        try:
            return normalise_contact(self.kind, value)
        except ContactError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ServerOnlyCharField(StrictCharField):
    """Text about the shopper that only a signed server event may carry (the widget's
    events are unsigned, so they could name anyone)."""

    def to_internal_value(self, data: Any) -> str:
        if not self.context.get("trusted"):
            raise serializers.ValidationError(
                "Only signed server events may name the customer: widget events are not "
                "authenticated."
            )
        return str(super().to_internal_value(data))


class CartEventSerializer(serializers.Serializer):
    """One cart event. ``data`` depends on ``type`` (see docs/API.md, "Event types")."""

    id = IdField(help_text="Client-generated event id; the idempotency key.")
    type = serializers.ChoiceField(choices=EventType.choices)
    occurred_at = StrictDateTimeField()
    cart_id = IdField()
    visitor_id = IdField()
    customer_id = IdField(required=False)
    customer_hmac = StrictCharField(
        max_length=128,
        required=False,
        # Hex only: anything else can never match (and non-ASCII text cannot even be
        # compared in constant time).
        validators=[RegexValidator(r"^[0-9A-Fa-f]+$", "Send the hex HMAC-SHA256 of customer_id.")],
        help_text="Widget only: hex HMAC-SHA256 of customer_id keyed with the site secret.",
    )
    # The wire name "data" shadows Serializer.data, which this serializer never uses.
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]
    email = ContactField(
        EMAIL,
        max_length=MAX_EMAIL_LENGTH + 40,
        help_text="Server events only: the shopper's email, for the outreach lookup, to "
        "tell agents who the shopper is, and for the email an agent may send a shopper "
        "who left a chat. For the lookup a keyed hash (trimmed, lower-cased) and a masked "
        "form for agents (m•••@example.com); the address itself is kept apart for the "
        "email only, deleted after CARTASSIST_SHOPPER_EMAIL_RETENTION_DAYS (docs/adr/0025).",
    )
    customer_name = ServerOnlyCharField(
        max_length=120,
        required=False,
        help_text="Server events only: the shopper's name as the shop knows it, shown to "
        "agents in the console.",
    )
    phone = ContactField(
        PHONE,
        max_length=40,
        help_text="Server events only: the shopper's phone with its country code (E.164, "
        "e.g. +49301234567), for the outreach lookup. Only a keyed hash is stored.",
    )

    def validate_occurred_at(self, value: datetime) -> datetime:
        now = self.context.get("now") or timezone.now()
        if value > now + settings.CARTASSIST_MAX_CLOCK_SKEW:
            raise serializers.ValidationError("This timestamp is in the future.")
        if value < now - settings.CARTASSIST_MAX_EVENT_AGE:
            raise serializers.ValidationError("This event is too old to be accepted.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            data = self._data_serializer(attrs["type"]).run_validation(attrs.get("data") or {})
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"data": exc.detail}) from exc
        attrs["data"] = dict(data)
        attrs["customer_verified"] = self._customer_is_verified(attrs)
        attrs.pop("customer_hmac", None)
        return attrs

    def _data_serializer(self, event_type: str) -> serializers.Serializer:
        """One ``data`` serializer per event type for the life of this serializer (one
        batch). A new DRF serializer deep-copies all its fields, which cost more than the
        validation itself (docs/PERFORMANCE.md); ``run_validation`` keeps no state."""
        cache: dict[str, serializers.Serializer] = self.__dict__.setdefault("_data_by_type", {})
        if event_type not in cache:
            cache[event_type] = DATA_SERIALIZERS[event_type]()
        return cache[event_type]

    def _customer_is_verified(self, attrs: dict[str, Any]) -> bool:
        customer_id = attrs.get("customer_id")
        if not customer_id:
            return False
        if self.context["trusted"]:
            return True
        sent = attrs.get("customer_hmac")
        if not sent:
            raise serializers.ValidationError(
                {"customer_hmac": ["Required with customer_id: sign it on your server."]}
            )
        site = self.context["site"]
        now = self.context.get("now") or timezone.now()
        for secret in site.valid_secrets(now):
            if hmac.compare_digest(customer_identity_hmac(secret, customer_id), str(sent)):
                return True
        raise serializers.ValidationError(
            {"customer_hmac": ["Does not match customer_id for this site."]}
        )


_EXAMPLE_EVENT = {
    "id": "evt_01HZX3",
    "type": "shipping_quoted",
    # Served as the time the schema is generated (api/schema.py, fresh_examples), so
    # that the example is never refused as too old.
    "occurred_at": "2026-11-23T10:15:00Z",
    "cart_id": "cart_8841",
    "visitor_id": "v_5f2c",
    "data": {"currency": "EUR", "fee": "9.90", "method": "standard"},
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("Widget batch", value={"site_key": "pk_…", "events": [_EXAMPLE_EVENT]})
    ]
)
class WidgetBatchSerializer(serializers.Serializer):
    site_key = serializers.CharField(max_length=64, help_text="The site's public key.")
    events = CartEventSerializer(many=True)


@extend_schema_serializer(
    examples=[OpenApiExample("Server batch", value={"events": [_EXAMPLE_EVENT]})]
)
class ServerBatchSerializer(serializers.Serializer):
    events = CartEventSerializer(many=True)


class IngestResultSerializer(serializers.Serializer):
    stored = serializers.ListField(child=serializers.CharField(), help_text="Event ids stored now.")
    duplicates = serializers.ListField(
        child=serializers.CharField(), help_text="Event ids already stored before (not re-applied)."
    )


# Per thread (daphne runs sync views on several threads; run_validation keeps no state
# but the context, set per batch).
_thread_serializers = threading.local()


def validate_events(
    raw_events: Any, *, site: Any, trusted: bool, now: datetime
) -> list[dict[str, Any]]:
    """Validate a batch; raise one ValidationError with the errors of every bad event."""
    limit = settings.CARTASSIST_MAX_BATCH_EVENTS
    if not isinstance(raw_events, list):
        raise serializers.ValidationError({"events": ["Send a list of events."]})
    if not raw_events:
        raise serializers.ValidationError({"events": ["Send at least one event."]})
    if len(raw_events) > limit:
        raise serializers.ValidationError(
            {"events": [f"At most {limit} events per batch; this one has {len(raw_events)}."]}
        )
    # One serializer validates every event of the batch, and the batches of the thread
    # after it (see _data_serializer for why): only its context changes.
    errors: dict[str, Any] = {}
    valid: list[dict[str, Any]] = []
    serializer: CartEventSerializer | None = None
    zone = timezone.get_current_timezone()
    for index, raw in enumerate(raw_events):
        # The fast path (api/event_check.py, ADR 0021) accepts what it is sure of with
        # the serializer's result; the serializer decides the rest and words the errors.
        checked = event_checked(raw, site=site, trusted=trusted, now=now, zone=zone)
        if checked is not None:
            valid.append(checked)
            continue
        if serializer is None:
            serializer = _event_serializer(site=site, trusted=trusted, now=now)
        try:
            valid.append(dict(serializer.run_validation(raw)))
        except serializers.ValidationError as exc:
            errors[str(index)] = exc.detail
    if errors:
        raise serializers.ValidationError({"events": errors})
    return valid


def _event_serializer(*, site: Any, trusted: bool, now: datetime) -> CartEventSerializer:
    """The thread's one ``CartEventSerializer`` (see _data_serializer for why), with this
    batch's context."""
    serializer = _thread_serializers.__dict__.get("event")
    if serializer is None:
        serializer = _thread_serializers.event = CartEventSerializer()
    serializer._context = {"site": site, "trusted": trusted, "now": now}
    return serializer
