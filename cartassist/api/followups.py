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

from cartassist.carts.models import FollowUpChannel, FollowUpReason, FollowUpResolution
from cartassist.outcomes.services.follow_up_outcomes import follow_up_report_with_resolution

from .auth import server_site
from .body import parse_json_object, read_body
from .outreach import LookupContactField
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
    email = LookupContactField(
        "email",
        required=False,
        max_length=300,
        help_text="Who contacted you, when you have no id: an email a signed event gave "
        "(matched by keyed hash, not stored).",
    )
    phone = LookupContactField(
        "phone",
        required=False,
        max_length=40,
        help_text="As email: a phone number with its country code (E.164).",
    )
    resolution = serializers.ChoiceField(
        choices=FollowUpResolution.choices,
        required=False,
        help_text="How the contact ended: self_served (the outreach lookup resolved it, no "
        "agent: a deflected contact) or agent (handed to an agent). Re-post the same id "
        "with it to report it later: only this field changes.",
    )

    def validate_occurred_at(self, value: datetime) -> datetime:
        now = self.context["now"]
        if value > now + settings.CARTASSIST_MAX_CLOCK_SKEW:
            raise serializers.ValidationError("This timestamp is in the future.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(attrs.get(name) for name in ("visitor_id", "customer_id", "email", "phone")):
            raise serializers.ValidationError(
                {"customer_id": ["Send customer_id, visitor_id, email or phone."]}
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
    resolution = serializers.CharField(
        allow_null=True, help_text="self_served, agent, or null when not reported (yet)."
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
            "after outreach by reason. Idempotent per `id`: 201 the first time, 200 after; "
            "a repeat may add or change only `resolution` (how the contact ended), which "
            "emits the `follow_up.reported` webhook again."
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
        contact, created, _ = follow_up_report_with_resolution(
            site=site,
            key=data["id"],
            channel=data["channel"],
            reason=data["reason"],
            visitor_id=data.get("visitor_id", ""),
            customer_id=data.get("customer_id", ""),
            email=data.get("email", ""),
            phone=data.get("phone", ""),
            resolution=data.get("resolution", ""),
            occurred_at=data["occurred_at"],
            note=data.get("note", ""),
            now=now,
        )
        return Response(
            {
                "id": contact.key,
                "duplicate": not created,
                "intervention_id": contact.intervention_id,
                "resolution": contact.resolution or None,
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
