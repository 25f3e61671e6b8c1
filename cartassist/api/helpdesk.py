"""The helpdesk's live queue, reported by the helpdesk (signed like server events;
docs/integrations/helpdesk.md, "Live queue"). Pacing reads it (docs/adr/0024)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.carts.models.helpdesk import MAX_CONTACTS_PER_HOUR
from cartassist.carts.services.pacing import helpdesk_queue_report

from .auth import server_site
from .body import parse_json_object, read_body
from .schema import BODY_REFUSALS, SIGNATURE_HEADERS, SIGNED_REFUSALS


class CountField(serializers.IntegerField):
    """A whole number sent as a JSON integer: ``"3"``, ``3.0`` and ``true`` are refused."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class HelpdeskQueueSerializer(serializers.Serializer):
    open_contacts = CountField(
        min_value=0,
        max_value=MAX_CONTACTS_PER_HOUR,
        help_text="Contacts waiting in the helpdesk's queue now (not yet taken by anyone).",
    )
    capacity_override = CountField(
        min_value=0,
        max_value=MAX_CONTACTS_PER_HOUR,
        required=False,
        allow_null=True,
        help_text="Contacts the helpdesk absorbs in the current hour (site time zone), "
        "instead of the admin's grid; null or absent: the grid's.",
    )


class HelpdeskQueueResultSerializer(serializers.Serializer):
    open_contacts = serializers.IntegerField()
    capacity_override = serializers.IntegerField(allow_null=True)
    override_hour_start = serializers.DateTimeField(
        allow_null=True, help_text="The start of the hour the override applies to."
    )
    reported_at = serializers.DateTimeField()
    counts_until = serializers.DateTimeField(
        help_text="Pacing uses the reported queue until then "
        "(CARTASSIST_HELPDESK_QUEUE_MAX_AGE_SECONDS); report again before."
    )
    pacing_enabled = serializers.BooleanField(
        help_text="Whether outreach on this site is paced (the site editor's switch)."
    )


class HelpdeskQueueView(APIView):
    parser_classes: list[Any] = []

    def get_authenticate_header(self, request: Request) -> str:
        return 'CartAssist-HMAC realm="api"'

    @extend_schema(
        operation_id="helpdesk_queue_report",
        summary="Report the helpdesk's current queue (helpdesk, signed)",
        description=(
            "Tell CartAssist how many contacts wait in the helpdesk's queue now and, "
            "optionally, how many it can absorb this hour. Pacing counts the queue as a "
            "floor on the current hour's backlog and the override as this hour's capacity, "
            "for CARTASSIST_HELPDESK_QUEUE_MAX_AGE_SECONDS (default 15 minutes) after the "
            "report. Each report replaces the previous one."
        ),
        parameters=SIGNATURE_HEADERS,
        request={"application/json": HelpdeskQueueSerializer},
        responses={200: HelpdeskQueueResultSerializer, **BODY_REFUSALS, **SIGNED_REFUSALS},
        examples=[
            OpenApiExample(
                "Twelve waiting, short-staffed this hour",
                value={"open_contacts": 12, "capacity_override": 6},
                request_only=True,
            )
        ],
        tags=["helpdesk"],
    )
    def post(self, request: Request) -> Response:
        now = timezone.now()
        body = read_body(request._request)
        site = server_site(request._request, body, now=now)
        serializer = HelpdeskQueueSerializer(data=parse_json_object(request._request, body))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row = helpdesk_queue_report(
            site=site,
            open_contacts=data["open_contacts"],
            capacity_override=data.get("capacity_override"),
            now=now,
        )
        result = HelpdeskQueueResultSerializer(
            {
                "open_contacts": row.open_contacts,
                "capacity_override": row.capacity_override,
                "override_hour_start": row.override_hour_start,
                "reported_at": row.reported_at,
                "counts_until": now + settings.CARTASSIST_HELPDESK_QUEUE_MAX_AGE,
                "pacing_enabled": row.pacing_enabled,
            }
        )
        return Response(result.data)
