"""The outreach lookup for the helpdesk and the phone menu (docs/API.md, "Outreach
lookup"). Thin: authenticate (signed GET or signed POST), validate the one lookup key,
call one service.

``GET /api/v1/server/outreach?email=…`` signs its request target, query string included,
so the key cannot be swapped; ``POST`` with a signed JSON body does the same and keeps an
email or phone number out of access logs (recommended for email and phone).
"""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.domain.contacts import EMAIL, PHONE, ContactError, normalise_contact
from cartassist.outcomes.services.outreach_lookup import LOOKUP_KEYS, outreach_lookup

from .auth import request_target, server_site
from .body import parse_json_object, read_body
from .schema import (
    BODY_REFUSALS,
    GET_SIGNATURE_HEADERS,
    SIGNATURE_HEADERS,
    SIGNED_REFUSALS,
    refusal,
)
from .serializers import ID_PATTERN, StrictCharField

ONE_KEY = "Send exactly one of customer_id, visitor_id, email or phone."


def lookup_key(raw: dict[str, Any]) -> tuple[str, str]:
    """The one ``(key, value)`` to look a shopper up by, validated and normalised;
    raises ``ValidationError`` with field errors otherwise (unknown fields included)."""
    errors: dict[str, list[str]] = {
        name: [f"Unknown field: {ONE_KEY}"] for name in raw if name not in LOOKUP_KEYS
    }
    if errors:
        raise ValidationError(errors)
    sent = [name for name in LOOKUP_KEYS if name in raw]
    if len(sent) != 1:
        raise ValidationError({name: [ONE_KEY] for name in sent or ["customer_id"]})
    (key,) = sent
    value = raw[key]
    if not isinstance(value, str):
        raise ValidationError({key: ["Send a string."]})
    if key in (EMAIL, PHONE):
        try:
            return key, normalise_contact(key, value)
        except ContactError as exc:
            raise ValidationError({key: [str(exc)]}) from exc
    if not re.fullmatch(ID_PATTERN, value):
        raise ValidationError(
            {key: ["Use 1–64 characters: letters, digits, '.', '_', ':' or '-'."]}
        )
    return key, value


class LookupContactField(StrictCharField):
    """An email or phone sent by a signed caller, normalised (domain/contacts.py)."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def to_internal_value(self, data: Any) -> str:
        try:
            return normalise_contact(self.kind, super().to_internal_value(data))
        except ContactError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class LookupKeySerializer(serializers.Serializer):
    """Schema only: exactly one of the fields."""

    customer_id = serializers.CharField(required=False, help_text="Your customer id.")
    visitor_id = serializers.CharField(required=False, help_text="The widget's visitor id.")
    email = serializers.CharField(
        required=False, help_text="An email a signed event gave (matched by its keyed hash)."
    )
    phone = serializers.CharField(
        required=False, help_text="A phone number with country code (E.164), as above."
    )


class LookupMessageSerializer(serializers.Serializer):
    sender = serializers.CharField(help_text="agent or shopper.")
    text = serializers.CharField(help_text="Up to 1000 characters.")
    sent_at = serializers.DateTimeField()


class LookupChatSerializer(serializers.Serializer):
    agent_first_name = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    messages = LookupMessageSerializer(many=True, help_text="The last 20, oldest first.")


class LookupOfferSerializer(serializers.Serializer):
    kind = serializers.CharField()
    amount = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    status = serializers.CharField(
        help_text="offered, accepted, declined, expired or refused_on_accept."
    )
    total_before = serializers.CharField()
    total_after = serializers.CharField()
    offered_at = serializers.DateTimeField()


class LookupGrantSerializer(serializers.Serializer):
    grant_id = serializers.CharField()
    kind = serializers.CharField()
    amount = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    status = serializers.CharField(help_text="active (usable at checkout), redeemed or expired.")
    expires_at = serializers.DateTimeField()
    redeemed_at = serializers.DateTimeField(allow_null=True)
    order_id = serializers.CharField(allow_blank=True)


class LookupOrderSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    total = serializers.CharField(allow_null=True)
    currency = serializers.CharField()


class LookupItemSerializer(serializers.Serializer):
    intervention_id = serializers.IntegerField(help_text="As in the webhooks and outcome API.")
    cart_id = serializers.CharField()
    reached_out_at = serializers.DateTimeField()
    stall_reason = serializers.CharField(
        help_text="shipping_shock, payment_failed, coupon_rejected or idle."
    )
    stage = serializers.CharField()
    cart_value = serializers.CharField()
    currency = serializers.CharField()
    verification_code = serializers.CharField(
        allow_null=True, help_text="The invitation's code (docs/VERIFICATION.md)."
    )
    invitation_result = serializers.CharField(allow_blank=True)
    chat = LookupChatSerializer(allow_null=True, help_text="Null when the shopper did not chat.")
    offers = LookupOfferSerializer(many=True)
    grants = LookupGrantSerializer(many=True)
    order = LookupOrderSerializer(allow_null=True)
    summary = serializers.CharField(help_text="One sentence for a phone menu or a sidebar.")


class LookupResultSerializer(serializers.Serializer):
    window_days = serializers.IntegerField(help_text="The site's follow-up window.")
    outreach = LookupItemSerializer(
        many=True, help_text="Newest first, at most 5; empty for an unknown shopper too."
    )


_EXAMPLE = {
    "window_days": 7,
    "outreach": [
        {
            "intervention_id": 4711,
            "cart_id": "cart_8841",
            "reached_out_at": "2026-11-23T10:15:00Z",
            "stall_reason": "shipping_shock",
            "stage": "shipping",
            "cart_value": "60.00",
            "currency": "EUR",
            "verification_code": "K7QX29PD",
            "invitation_result": "accepted",
            "chat": {
                "agent_first_name": "Ada",
                "started_at": "2026-11-23T10:15:20Z",
                "closed_at": "2026-11-23T10:21:00Z",
                "messages": [
                    {
                        "sender": "agent",
                        "text": "I can waive the delivery charge for you.",
                        "sent_at": "2026-11-23T10:16:00Z",
                    }
                ],
            },
            "offers": [
                {
                    "kind": "waive_delivery",
                    "amount": "9.90",
                    "currency": "EUR",
                    "status": "accepted",
                    "total_before": "69.90",
                    "total_after": "60.00",
                    "offered_at": "2026-11-23T10:16:02Z",
                }
            ],
            "grants": [
                {
                    "grant_id": "9f1c0d…",
                    "kind": "waive_delivery",
                    "amount": "9.90",
                    "currency": "EUR",
                    "status": "redeemed",
                    "expires_at": "2026-11-24T10:16:40Z",
                    "redeemed_at": "2026-11-23T10:25:00Z",
                    "order_id": "A-1042",
                }
            ],
            "order": {"order_id": "A-1042", "total": "60.00", "currency": "EUR"},
            "summary": "Are you calling about our chat about your delivery charge? "
            "Free delivery is applied to order A-1042.",
        }
    ],
}

DESCRIPTION = (
    "The recent outreach to one shopper of the signing site: when and why, what the agent "
    "said and offered, the grant and its status, the order, the invitation's verification "
    "code and a one-line `summary` for a phone menu. Look up by exactly one of "
    "`customer_id`, `visitor_id`, `email` or `phone` (email and phone match what signed "
    "events carried, by keyed hash). Within the site's follow-up window, newest first, at "
    "most 5. An unknown shopper is an empty list, like a shopper without outreach."
)


class _BodyRequiredSchema(AutoSchema):
    """The POST body is required (one key), though no single field of it is: a schema
    cannot say "exactly one of", so drf-spectacular would mark the body optional."""

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)
        if body is not None:
            body["required"] = True
        return body


class OutreachLookupView(APIView):
    parser_classes: list[Any] = []  # POST bodies are read by read_body(), bounded
    schema = _BodyRequiredSchema()

    def get_authenticate_header(self, request: Request) -> str:
        return 'CartAssist-HMAC realm="api"'

    @extend_schema(
        operation_id="server_outreach_lookup",
        summary="Look up the outreach to a shopper (helpdesk, phone menu; signed GET)",
        description=DESCRIPTION
        + " Sign `<timestamp>.GET <path>?<query>`: the query string is signed as sent. "
        "Prefer POST for email and phone, so they stay out of access logs.",
        parameters=[
            *GET_SIGNATURE_HEADERS,
            *[
                OpenApiParameter(name, str, OpenApiParameter.QUERY, description=help_text)
                for name, help_text in [
                    ("customer_id", "Your customer id."),
                    ("visitor_id", "The widget's visitor id."),
                    ("email", "An email address (prefer POST)."),
                    ("phone", "A phone number with its country code (prefer POST)."),
                ]
            ],
        ],
        responses={
            200: LookupResultSerializer,
            400: refusal("Not exactly one lookup key, or a malformed one: `errors` names it."),
            **SIGNED_REFUSALS,
        },
        examples=[OpenApiExample("Found", value=_EXAMPLE, response_only=True)],
        tags=["outreach"],
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        site = server_site(request._request, request_target(request._request), now=now)
        query = request._request.GET
        repeated = [name for name in query if len(query.getlist(name)) > 1]
        if repeated:
            raise ValidationError({name: ["Send this parameter once."] for name in repeated})
        key, value = lookup_key(dict(query.items()))
        return Response(outreach_lookup(site=site, key=key, value=value, now=now).as_dict())

    @extend_schema(
        operation_id="server_outreach_lookup_post",
        summary="Look up the outreach to a shopper (signed POST: keeps email and phone "
        "out of URLs)",
        description=DESCRIPTION
        + " Signed like `POST /api/v1/server/events`; the body is one JSON object with the "
        "one lookup key. Nothing is stored.",
        parameters=SIGNATURE_HEADERS,
        request={"application/json": LookupKeySerializer},
        responses={200: LookupResultSerializer, **BODY_REFUSALS, **SIGNED_REFUSALS},
        examples=[
            OpenApiExample("By email", value={"email": "ada@example.com"}, request_only=True),
            OpenApiExample("Found", value=_EXAMPLE, response_only=True),
        ],
        tags=["outreach"],
    )
    def post(self, request: Request) -> Response:
        now = timezone.now()
        body = read_body(request._request)
        site = server_site(request._request, body, now=now)
        key, value = lookup_key(parse_json_object(request._request, body))
        return Response(outreach_lookup(site=site, key=key, value=value, now=now).as_dict())
