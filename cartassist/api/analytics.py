"""``GET /api/v1/analytics``: the analytics report as JSON (docs/ANALYTICS.md, "JSON API").

Session authentication (a logged-in admin user) with ``cartassist.view_intervention``;
anything else is 403. The filters are the analytics page's (one form); bad ones are a 400
with field-level ``errors``. The response schema is derived from the report's dataclasses,
so the OpenAPI document cannot drift from what the view returns.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.analytics.forms import AnalyticsFilterForm
from cartassist.analytics.views import PERMISSION, report_compute
from cartassist.api.schema import refusal
from cartassist.domain.analytics_report import AnalyticsReport, report_as_dict


class CanViewAnalytics(BasePermission):
    message = "You need the 'Can view intervention' permission (Merchandisers group)."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(PERMISSION))


def _field(annotation: Any) -> serializers.Field:
    nullable = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    kwargs: dict[str, Any] = {"allow_null": nullable} if nullable else {}
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        child = _field(item)
        return serializers.ListField(child=child, **kwargs)
    if dataclasses.is_dataclass(annotation):
        return _serializer(annotation)(**kwargs)
    if annotation is bool:
        return serializers.BooleanField(**kwargs)
    if annotation is int:
        return serializers.IntegerField(**kwargs)
    if annotation is float:
        return serializers.FloatField(**kwargs)
    if annotation is Decimal:
        return serializers.DecimalField(max_digits=20, decimal_places=3, **kwargs)
    if annotation is date:
        return serializers.DateField(**kwargs)
    return serializers.CharField(**kwargs)


def analytics_filters(request: Request, *, now: datetime) -> AnalyticsFilterForm:
    """The request's validated analytics filters; invalid (or empty) ones are a 400 with
    field-level errors. Shared by the analytics endpoints."""
    form = AnalyticsFilterForm(request.query_params, now=now, blank_means_default=False)
    if not form.is_valid():
        raise exceptions.ValidationError(
            {field: [str(m) for m in messages] for field, messages in form.errors.items()}
        )
    return form


_serializers: dict[type, type[serializers.Serializer]] = {}


def _serializer(cls: Any) -> type[serializers.Serializer]:
    """A read-only serializer describing dataclass ``cls`` (for the schema only)."""
    if cls not in _serializers:
        hints = typing.get_type_hints(cls)
        attrs = {f.name: _field(hints[f.name]) for f in dataclasses.fields(cls)}
        attrs["__doc__"] = cls.__doc__
        name = cls.__name__ if cls.__name__.startswith("Analytics") else f"Analytics{cls.__name__}"
        _serializers[cls] = type(name, (serializers.Serializer,), attrs)
    return _serializers[cls]


class AnalyticsView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [CanViewAnalytics]

    @extend_schema(
        operation_id="analytics_retrieve",
        summary="Analytics of interventions (merchandisers)",
        description=(
            "Conversion of invited vs held-out stalled carts with the uplift, its "
            "always-valid 95 % confidence sequence and its fixed-horizon 95 % interval, the "
            "CUPED-adjusted uplift, a sample-size planner, revenue and remedy cost per "
            "currency, breakdowns, invitation funnel, suppression reasons, follow-up "
            "contacts, time to first response and daily series. Authentication: a Django "
            "session (log in at /admin/) of a user with the cartassist.view_intervention "
            "permission; otherwise 403. Amounts are decimal strings. Every figure is "
            "defined in docs/ANALYTICS.md."
        ),
        parameters=[
            OpenApiParameter(
                "date_from",
                OpenApiTypes.DATE,
                description="First day (default: 29 days before date_to), in the site's time "
                "zone, or UTC for all sites; from 2000-01-01 to 2999-12-31. Omit it for the "
                "default: an empty value is refused.",
            ),
            OpenApiParameter(
                "date_to",
                OpenApiTypes.DATE,
                description="Last day, inclusive (default: today); from 2000-01-01 to "
                "2999-12-31. Omit it for the default: an empty value is refused.",
            ),
            OpenApiParameter(
                "site", OpenApiTypes.INT, description="Site id; omit it for every site."
            ),
            OpenApiParameter(
                "plan_uplift",
                OpenApiTypes.DECIMAL,
                description="Sample-size planner: the uplift to detect, in percentage "
                "points, 0.1–50, one decimal (default 5).",
            ),
            OpenApiParameter(
                "plan_holdout",
                OpenApiTypes.DECIMAL,
                description="Sample-size planner: a holdout share to compare with, in per "
                "cent, 1–99, one decimal (the current share and 5, 10, 20, 30 and 50 % are "
                "always planned).",
            ),
        ],
        responses={
            200: _serializer(AnalyticsReport),
            400: refusal("Invalid filters (also an empty one): field-level `errors`."),
            403: refusal("Not logged in, or without the permission."),
        },
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        form = analytics_filters(request, now=timezone.now())
        report = report_compute(form)
        return Response(report_as_dict(report))
