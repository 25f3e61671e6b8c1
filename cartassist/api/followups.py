"""Follow-up contacts reported by the shop's helpdesk (signed like server events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.carts.models import FollowUpChannel, FollowUpReason
from cartassist.outcomes.services.followups import follow_up_report

from .auth import server_site
from .body import parse_json_object, read_body
from .schema import BODY_REFUSALS, SIGNATURE_HEADERS, SIGNED_REFUSALS
from .serializers import IdField, StrictCharField, StrictDateTimeField


class FollowUpSerializer(serializers.Serializer):
    id = IdField(help_text="The helpdesk's own contact id: reporting it again is a no-op.")
    visitor_id = IdField(required=False, help_text="The widget's visitor id, if known.")
    customer_id = IdField(required=False, help_text="The shop's customer id, if known.")
    channel = serializers.ChoiceField(choices=FollowUpChannel.choices)
    reason = serializers.ChoiceField(
        choices=FollowUpReason.choices,
        help_text="needed_confirmation: wanted the outreach or its remedy confirmed; "
        "checking_genuine: asked whether the outreach was really from the shop; "
        "unresolved: the issue was not resolved; other.",
    )
    occurred_at = StrictDateTimeField(help_text="When the shopper contacted the helpdesk.")
    note = StrictCharField(required=False, allow_blank=True, max_length=500)

    def validate_occurred_at(self, value: datetime) -> datetime:
        now = self.context["now"]
        if value > now + settings.CARTASSIST_MAX_CLOCK_SKEW:
            raise serializers.ValidationError("This timestamp is in the future.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("visitor_id") and not attrs.get("customer_id"):
            raise serializers.ValidationError(
                {"customer_id": ["Send customer_id, visitor_id or both."]}
            )
        return attrs


class FollowUpResultSerializer(serializers.Serializer):
    id = serializers.CharField()
    duplicate = serializers.BooleanField(help_text="True when this id was reported before.")
    intervention_id = serializers.IntegerField(
        allow_null=True,
        help_text="The outreach (or control-group decision) the contact is credited to; null "
        "when the shopper had none within the site's follow-up window.",
    )


class FollowUpView(APIView):
    parser_classes: list[Any] = []

    def get_authenticate_header(self, request: Request) -> str:
        return 'CartAssist-HMAC realm="api"'

    @extend_schema(
        operation_id="follow_up_create",
        summary="Report a follow-up contact from the helpdesk (shop backend, signed)",
        description=(
            "Tell CartAssist that a shopper contacted the shop (email, phone, …) and why. "
            "The contact is credited to the shopper's most recent outreach within the site's "
            "follow-up window (default 7 days), so merchandisers see the follow-up rate "
            "after outreach by reason. Idempotent per `id`: 201 the first time, 200 after."
        ),
        parameters=SIGNATURE_HEADERS,
        request={"application/json": FollowUpSerializer},
        responses={
            201: FollowUpResultSerializer,
            200: FollowUpResultSerializer,
            **BODY_REFUSALS,
            **SIGNED_REFUSALS,
        },
        tags=["follow-ups"],
    )
    def post(self, request: Request) -> Response:
        now = timezone.now()
        body = read_body(request._request)
        site = server_site(request._request, body, now=now)
        serializer = FollowUpSerializer(
            data=parse_json_object(request._request, body), context={"now": now}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        contact, created = follow_up_report(
            site=site,
            key=data["id"],
            channel=data["channel"],
            reason=data["reason"],
            visitor_id=data.get("visitor_id", ""),
            customer_id=data.get("customer_id", ""),
            occurred_at=data["occurred_at"],
            note=data.get("note", ""),
            now=now,
        )
        return Response(
            {
                "id": contact.key,
                "duplicate": not created,
                "intervention_id": contact.intervention_id,
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
