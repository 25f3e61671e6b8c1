"""``GET /api/v1/analytics/helpdesk``: the helpdesk pacing figures of one site as JSON
(docs/ANALYTICS.md, "Helpdesk pacing"). Authentication, permission and filters are the
analytics API's (``api/analytics.py``); ``site`` is required, capacity being per site."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.api.analytics import CanViewAnalytics, _serializer, analytics_filters
from cartassist.api.schema import refusal
from cartassist.carts.models import Site
from cartassist.domain.pacing_report import HelpdeskPacing, pacing_as_dict
from cartassist.outcomes.services.pacing_analytics import helpdesk_pacing_compute


class HelpdeskPacingView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [CanViewAnalytics]

    @extend_schema(
        operation_id="analytics_helpdesk_retrieve",
        summary="Helpdesk pacing of one site (merchandisers)",
        description=(
            "Expected and actual follow-up contacts per hour against the helpdesk's "
            "capacity (the period's last 7 days, hour by hour in the site's time zone), the "
            "outreach that waited for the helpdesk or was suppressed as `helpdesk_busy`, "
            "and the follow-up rates and delay curve pacing uses. Same authentication and "
            "filters as GET /api/v1/analytics; `site` is required. Defined in "
            "docs/ANALYTICS.md, “Helpdesk pacing”."
        ),
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="As /api/v1/analytics."),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="As /api/v1/analytics."),
            OpenApiParameter("site", OpenApiTypes.INT, required=True, description="Site id."),
        ],
        responses={
            200: _serializer(HelpdeskPacing),
            400: refusal("Invalid or missing filters (also an empty one): field-level `errors`."),
            403: refusal("Not logged in, or without the permission."),
        },
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        f = analytics_filters(request, now=now).filters()
        if f.site_ids is None:
            raise exceptions.ValidationError({"site": ["Choose a site: capacity is per site."]})
        pacing = helpdesk_pacing_compute(
            site=Site.objects.get(pk=f.site_ids[0]),
            date_from=f.date_from,
            date_to=f.date_to,
            now=now,
        )
        return Response(pacing_as_dict(pacing))
