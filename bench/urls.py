"""The product's URLs plus ``/api/bench/bare-events``: a plain DRF endpoint that parses
JSON and validates a batch of the same shape as the product's, then answers 200 without
touching the database. It is the baseline the ingestion endpoints are compared with."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.urls import urlpatterns as product_urlpatterns


class BareLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=0)
    category = serializers.CharField(max_length=64, required=False, allow_blank=True)


class BareDataSerializer(serializers.Serializer):
    """Every field an event's ``data`` may carry, all optional (no per-type dispatch)."""

    currency = serializers.CharField(max_length=3, required=False)
    subtotal = serializers.DecimalField(
        max_digits=14, decimal_places=3, min_value=0, required=False
    )
    lines = BareLineSerializer(many=True, required=False)
    step = serializers.ChoiceField(choices=["contact", "shipping", "payment"], required=False)
    fee = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=0, required=False)
    method = serializers.CharField(max_length=64, required=False, allow_blank=True)


class BareEventSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    type = serializers.CharField(max_length=32)
    occurred_at = serializers.DateTimeField()
    cart_id = serializers.CharField(max_length=64)
    visitor_id = serializers.CharField(max_length=64)
    data = BareDataSerializer()  # type: ignore[assignment]  # the wire name shadows .data


class BareBatchSerializer(serializers.Serializer):
    site_key = serializers.CharField(max_length=64, required=False)
    events = BareEventSerializer(many=True, max_length=100)  # type: ignore[call-arg]  # ListSerializer


class BareEventsView(APIView):
    """Validate-only: DRF's JSON parser, a serializer, a 200. No auth, throttle or DB."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = BareBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = [event["id"] for event in serializer.validated_data["events"]]
        return Response({"stored": ids, "duplicates": []})


urlpatterns = [
    path("api/bench/bare-events", BareEventsView.as_view(), name="bench-bare-events"),
    *product_urlpatterns,
]
