"""One intervention's outcome for the shop backend (signed GET; docs/API.md,
"Intervention outcomes"). Thin: authenticate, check the id, call one selector."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.outcomes.selectors import cart_intervention_outcomes, intervention_outcome

from .auth import request_target, server_site
from .schema import GET_SIGNATURE_HEADERS, SIGNED_REFUSALS, refusal
from .serializers import ID_PATTERN

MAX_ID = 2**63 - 1  # the largest intervention id the database can hold


class OutcomeChatSerializer(serializers.Serializer):
    agent = serializers.CharField(allow_null=True, help_text="The agent's display name.")
    first_response_seconds = serializers.FloatField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True, help_text="Null while open.")
    visitor_messages = serializers.IntegerField()
    agent_messages = serializers.IntegerField()


class OutcomeOfferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.CharField(allow_null=True, help_text="Null for non-monetary remedies.")
    currency = serializers.CharField()
    status = serializers.CharField(
        help_text="offered, accepted, declined, expired or refused_on_accept."
    )
    total_before = serializers.CharField()
    total_after = serializers.CharField()
    offered_at = serializers.DateTimeField()
    responded_at = serializers.DateTimeField(allow_null=True)


class OutcomeGrantSerializer(serializers.Serializer):
    grant_id = serializers.CharField(help_text="As in the grant webhooks.")
    offer_id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    redeemed_at = serializers.DateTimeField(allow_null=True)
    order_id = serializers.CharField(allow_blank=True, help_text="The order it was redeemed for.")


class OutcomeConversionSerializer(serializers.Serializer):
    converted = serializers.BooleanField()
    order_id = serializers.CharField(allow_blank=True)
    converted_at = serializers.DateTimeField(allow_null=True)
    attribution = serializers.CharField(
        allow_blank=True, help_text="same_cart, same_shopper, or empty."
    )


class OutcomeFollowUpSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Your helpdesk's contact id, or chat:<id>.")
    # The wire name "source" shadows Field.source; DRF takes declared fields off the class.
    source = serializers.CharField(help_text="helpdesk or chat.")  # type: ignore[assignment]
    channel = serializers.CharField()
    reason = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class InterventionOutcomeSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The intervention id (as in the webhooks).")
    cart_id = serializers.CharField(help_text="Your cart id.")
    visitor_id = serializers.CharField()
    trigger = serializers.CharField(help_text="sweep or agent.")
    decided_at = serializers.DateTimeField()
    decision = serializers.CharField(help_text="invited, suppressed or held_out.")
    suppression_reason = serializers.CharField(allow_blank=True)
    stall_reason = serializers.CharField()
    stage = serializers.CharField()
    urgency = serializers.IntegerField()
    cart_value = serializers.CharField()
    currency = serializers.CharField(help_text="The currency of every amount below but offers'.")
    invitation_result = serializers.CharField(
        allow_blank=True,
        help_text="pending, delivered, accepted, dismissed, ignored, undelivered; empty when "
        "not invited.",
    )
    chat = OutcomeChatSerializer(allow_null=True, help_text="Null when there was no chat.")
    offers = OutcomeOfferSerializer(many=True, help_text="Offers the shopper saw.")
    grants = OutcomeGrantSerializer(many=True)
    conversion = OutcomeConversionSerializer()
    revenue = serializers.CharField()
    granted_amount = serializers.CharField()
    remedy_cost = serializers.CharField(help_text="Grants redeemed on an order.")
    net_revenue = serializers.CharField()
    follow_ups = OutcomeFollowUpSerializer(many=True)
    outcome_final = serializers.BooleanField(
        help_text="The attribution window has closed: nothing changes any more."
    )
    outcome_updated_at = serializers.DateTimeField(allow_null=True)


class CartOutcomesSerializer(serializers.Serializer):
    cart_id = serializers.CharField()
    interventions = InterventionOutcomeSerializer(many=True, help_text="Newest first.")


RESPONSES: dict[int, Any] = {
    400: refusal("Malformed id: `errors` names the field."),
    **SIGNED_REFUSALS,
    404: refusal("No such intervention or cart for the signing site."),
}


class _SignedGetView(APIView):
    def get_authenticate_header(self, request: Request) -> str:
        return 'CartAssist-HMAC realm="api"'

    def site_id(self, request: Request) -> int:
        site = server_site(request._request, request_target(request._request), now=timezone.now())
        return site.pk


class InterventionOutcomeView(_SignedGetView):
    @extend_schema(
        operation_id="server_intervention_outcome",
        summary="One intervention and its outcome (shop backend, signed GET)",
        description=(
            "The decision, stall reason, invitation result, chat, offers, grants, "
            "conversion, revenue, remedy cost and follow-up contacts of one intervention of "
            "the signing site. Sign `<timestamp>.GET <path>` (docs/API.md). Another site's "
            "intervention is a 404, like a missing one."
        ),
        parameters=[
            *GET_SIGNATURE_HEADERS,
            OpenApiParameter(
                "intervention_id",
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                OpenApiParameter.PATH,
                description="The intervention id from the webhooks or an earlier answer.",
            ),
        ],
        responses={200: InterventionOutcomeSerializer, **RESPONSES},
        tags=["outcomes"],
    )
    def get(self, request: Request, intervention_id: str) -> Response:
        site_id = self.site_id(request)
        if not intervention_id.isascii() or not intervention_id.isdigit():
            raise ValidationError({"intervention_id": ["Send a positive integer."]})
        number = int(intervention_id)
        if not 1 <= number <= MAX_ID:
            raise ValidationError({"intervention_id": [f"Send an integer from 1 to {MAX_ID}."]})
        outcome = intervention_outcome(site_id=site_id, intervention_id=number)
        if outcome is None:
            raise NotFound("This site has no intervention with this id.")
        return Response(InterventionOutcomeSerializer(outcome).data)


class CartOutcomesView(_SignedGetView):
    @extend_schema(
        operation_id="server_cart_outcomes",
        summary="Every intervention on one of your carts, with its outcome (signed GET)",
        description=(
            "By your cart id. Newest first; an empty list when the cart never stalled. "
            "Another site's cart is a 404, like a missing one."
        ),
        parameters=[
            *GET_SIGNATURE_HEADERS,
            OpenApiParameter(
                "cart_id",
                str,
                OpenApiParameter.PATH,
                pattern=ID_PATTERN,
                description="Your cart id, as in the events.",
            ),
        ],
        responses={200: CartOutcomesSerializer, **RESPONSES},
        tags=["outcomes"],
        examples=[
            OpenApiExample(
                "Not found",
                value={"detail": "This site has no cart with this id."},
                response_only=True,
                status_codes=["404"],
            )
        ],
    )
    def get(self, request: Request, cart_id: str) -> Response:
        site_id = self.site_id(request)
        if not re.fullmatch(ID_PATTERN, cart_id):
            raise ValidationError(
                {"cart_id": ["Use 1–64 characters: letters, digits, '.', '_', ':' or '-'."]}
            )
        outcomes = cart_intervention_outcomes(site_id=site_id, cart_id=cart_id)
        if outcomes is None:
            raise NotFound("This site has no cart with this id.")
        return Response(
            CartOutcomesSerializer({"cart_id": cart_id, "interventions": outcomes}).data
        )
