"""Cart event endpoints. Thin: read the body, authenticate, validate, call one service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.carts.models import EventSource, Site
from cartassist.carts.services.ingest import EventsRefused, cart_events_ingest
from cartassist.domain.origins import origin_is_serialised

from .auth import (
    SignatureUse,
    signature_first_use_answer,
    signature_first_use_record,
    signed_site,
    widget_site,
)
from .body import parse_json_object, read_body
from .schema import (
    BODY_REFUSALS,
    SIGNATURE_HEADERS,
    SIGNED_REFUSALS,
    WIDGET_REFUSALS,
    throttled,
)
from .serializers import (
    IngestResultSerializer,
    ServerBatchSerializer,
    WidgetBatchSerializer,
    validate_events,
)
from .throttles import SiteKeyThrottle

ERROR_RESPONSES = {**BODY_REFUSALS, **throttled("per site key")}


class _EventsView(APIView):
    parser_classes: list[Any] = []  # the body is read by read_body(), bounded
    throttle_classes: list[Any] = []  # throttled per site key once the site is known
    throttle_scope = ""
    source: EventSource

    def throttle_send(
        self, request: Request, site: Site, signature: SignatureUse | None = None
    ) -> SiteKeyThrottle:
        """Count the request against its site key's rate (``throttle_check`` answers);
        ``signature``: only on the signature's first use, in the same step."""
        request.site = site  # type: ignore[assignment]  # ours, not django.contrib.sites
        throttle = SiteKeyThrottle(self.throttle_scope)
        throttle.send(request, self, (signature.key, signature.seconds) if signature else None)
        return throttle

    def throttle_check(
        self, throttle: SiteKeyThrottle, signature: SignatureUse | None = None
    ) -> None:
        """401 for a replayed signature (503 when that cannot be told), then 429."""
        if signature is not None:
            if throttle.pending is None:  # no rate for this scope: the first use alone
                signature_first_use_record(signature)
            else:
                signature_first_use_answer(throttle.first_use())
        if not throttle.allowed():
            raise Throttled(wait=throttle.wait())

    def ingest(
        self,
        request: Request,
        site: Site,
        read_payload: Callable[[], dict[str, Any]],
        now: Any,
        *,
        signature: SignatureUse | None = None,
    ) -> Response:
        """Count the rate (and a signature's first use) while the payload is read and
        validated; its answer comes first: a replayed or throttled request is refused
        whatever its body."""
        throttle = self.throttle_send(request, site, signature)
        try:
            payload = read_payload()
            events = validate_events(
                payload.get("events"), site=site, trusted=self.source == EventSource.SERVER, now=now
            )
        finally:
            self.throttle_check(throttle, signature)
        try:
            result = cart_events_ingest(site=site, events=events, source=self.source, now=now)
        except EventsRefused as refused:  # refused against the carts' state, e.g. currency
            raise ValidationError({"events": refused.errors}) from refused
        return Response(result.as_dict(), status=status.HTTP_200_OK)


class WidgetEventsView(_EventsView):
    """Events from the storefront widget, authenticated by public site key + Origin."""

    throttle_scope = "widget_events"
    source = EventSource.WIDGET

    @extend_schema(
        operation_id="widget_events_create",
        summary="Post a batch of cart events from the browser",
        description=(
            "Called by `cartassist.js`. The `Origin` header must be one of the site's allowed "
            "origins (a missing or `null` Origin is refused). Send the body as "
            "`application/json` or, to avoid a CORS preflight and to use `sendBeacon`, as "
            "`text/plain`. Idempotent per event id. Widget-reported totals never override "
            "totals a signed server event has set."
        ),
        # By media type: the view has no DRF parsers (read_body() reads the body), so
        # drf-spectacular cannot infer the request body from them.
        request={"application/json": WidgetBatchSerializer, "text/plain": WidgetBatchSerializer},
        responses={
            200: IngestResultSerializer,
            **WIDGET_REFUSALS,
            **ERROR_RESPONSES,
        },
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        body = read_body(request._request)
        payload = parse_json_object(request._request, body)
        site = widget_site(request._request, payload.get("site_key"))
        return self.ingest(request, site, lambda: payload, timezone.now())

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_cors_headers(request, response)
        return response

    @extend_schema(exclude=True)
    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


def add_cors_headers(request: Request, response: Any) -> None:
    """Let the browser read our answer. The Origin itself is checked against the site's
    allow-list before anything is stored; a preflight has no body and so no site key,
    so it is answered for any origin a browser can send (it grants nothing by itself).
    Anything else (``null``, a trailing slash, upper case) gets no CORS headers: the same
    rule as the allow-list's (cartassist/domain/origins.py)."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin_is_serialised(origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        # Cross-origin pages can read only "simple" response headers unless exposed;
        # the widget needs Retry-After to back off as a 429 / 503 asks.
        response["Access-Control-Expose-Headers"] = "Retry-After"
        response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"


class ServerEventsView(_EventsView):
    """Events from the shop backend, authenticated by an HMAC-SHA256 signature."""

    throttle_scope = "server_events"
    source = EventSource.SERVER

    def get_authenticate_header(self, request: Request) -> str:
        return 'CartAssist-HMAC realm="api"'

    @extend_schema(
        operation_id="server_events_create",
        summary="Post a batch of cart events from the shop backend (signed)",
        description=(
            "Trusted events: their totals outrank widget-reported ones and `customer_id` needs "
            "no identity HMAC. Sign `<timestamp>.<raw body>` with the site secret (HMAC-SHA256, "
            "hex) and send `X-CartAssist-Signature: v1=<hex>`. A signature is valid once, "
            "within the replay window (default 300 s). See docs/API.md for the recipe."
        ),
        parameters=SIGNATURE_HEADERS,
        request={"application/json": ServerBatchSerializer},
        responses={
            200: IngestResultSerializer,
            **SIGNED_REFUSALS,
            **ERROR_RESPONSES,
        },
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        now = timezone.now()
        body = read_body(request._request)
        site, signature = signed_site(request._request, body, now=now)
        return self.ingest(
            request,
            site,
            lambda: parse_json_object(request._request, body),
            now,
            signature=signature,
        )
