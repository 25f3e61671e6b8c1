"""Platform endpoints. Thin: read the body, verify, map (adapter), validate, call one service.

docs/API.md, "Platform integrations"; docs/integrations/.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotFound, PermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.api.auth import site_for_key, widget_site
from cartassist.api.body import parse_json_object, read_body
from cartassist.api.schema import BODY_REFUSALS, WIDGET_REFUSALS, refusal, throttled
from cartassist.api.serializers import IngestResultSerializer, validate_events
from cartassist.api.views import _EventsView, add_cors_headers
from cartassist.carts.models import EventSource
from cartassist.carts.services.ingest import EventsRefused
from cartassist.integrations.base import WebhookRefused
from cartassist.integrations.models import DiscountStatus, Platform
from cartassist.integrations.registry import adapter_for
from cartassist.integrations.services import (
    DeliveryResult,
    connection_for,
    native_discount_for_token,
    platform_delivery_apply,
    platform_delivery_seen,
)
from cartassist.integrations.shopify.pixel import pixel_events, pixel_origin
from policies.services.grants import GrantError

SITE_KEY_PATH = OpenApiParameter(
    "site_key",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The site's public key (pk_…), as in the webhook URL shown in admin.",
)


class DeliveryResultSerializer(serializers.Serializer):
    duplicate = serializers.BooleanField(
        help_text="This delivery (or platform event) was already received: nothing applied."
    )
    status = serializers.CharField(
        help_text="`applied`, `ignored` (nothing to apply); empty for a duplicate or a ping."
    )
    stored = serializers.ListField(child=serializers.CharField(), help_text="Cart event ids.")
    duplicates = serializers.ListField(child=serializers.CharField())
    redeemed = serializers.ListField(
        child=serializers.CharField(), help_text="Grant ids redeemed by this order's codes."
    )
    ping = serializers.BooleanField(
        required=False, help_text="WooCommerce's set-up ping: accepted, nothing stored."
    )


class ShopifyPayloadSerializer(serializers.Serializer):
    """The checkout or order, as Shopify sends it (webhook "Sample Payload"s)."""

    token = serializers.CharField(help_text="The checkout's (or order's) token.")


class WooCommercePayloadSerializer(serializers.Serializer):
    """The order resource, as the REST API v3 returns it (the set-up ping is form-encoded:
    `webhook_id=<id>`)."""

    id = serializers.IntegerField(help_text="The order id.")
    status = serializers.CharField(required=False)


def _webhook_schema(
    label: str, headers: list[str], description: str, body: type[serializers.Serializer]
) -> Any:
    return extend_schema(
        operation_id=f"{label.lower()}_webhook",
        summary=f"Receive a {label} webhook",
        description=description,
        parameters=[
            SITE_KEY_PATH,
            *(
                OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER)
                for name in headers
            ),
        ],
        request={"application/json": body},
        responses={
            200: DeliveryResultSerializer,
            401: refusal("Missing or invalid platform signature (`errors` names the header)."),
            404: refusal("No enabled connection to this platform for this site key."),
            **BODY_REFUSALS,
        },
        tags=["integrations"],
    )


class _PlatformWebhookView(APIView):
    """A platform's signed webhook for one site: ``/api/v1/integrations/<platform>/<key>/…``."""

    parser_classes: list[Any] = []  # read_body() reads the body, bounded
    platform: str

    def get_authenticate_header(self, request: Request) -> str:
        return f'{self.platform.capitalize()}-HMAC realm="webhooks"'

    def handle(self, request: Request, site_key: str) -> Response:
        now = timezone.now()
        body = read_body(request._request)
        connection = connection_for(site_key=site_key[:64], platform=self.platform)
        if connection is None:
            raise NotFound(f"No enabled {self.platform} connection for this site key.")
        adapter = adapter_for(self.platform)
        headers = dict(request.headers)
        info = connection.info(now)
        try:
            delivery = adapter.delivery(headers, body)
            if delivery.ping:
                return Response({"ping": True, **DeliveryResult(duplicate=False).as_dict()})
            adapter.verify(info, headers, body)
        except WebhookRefused as refused:
            error = AuthenticationFailed if refused.status == 401 else DRFValidationError
            raise error({refused.field_name: [refused.message]}) from refused
        if platform_delivery_seen(connection=connection, delivery=delivery):
            return Response(DeliveryResult(duplicate=True).as_dict())
        mapped = adapter.map_webhook(info, delivery, parse_json_object(request._request, body))
        events = (
            validate_events(mapped.events, site=connection.site, trusted=True, now=now)
            if mapped.events
            else []
        )
        try:
            result = platform_delivery_apply(
                connection=connection, delivery=delivery, events=events, order=mapped.order, now=now
            )
        except EventsRefused as refused:
            raise DRFValidationError({"events": refused.errors}) from refused
        return Response(result.as_dict())


class ShopifyWebhookView(_PlatformWebhookView):
    platform = Platform.SHOPIFY

    @_webhook_schema(
        "Shopify",
        ["X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id", "X-Shopify-Event-Id"],
        "Subscribe `checkouts/create`, `checkouts/update`, `orders/create` and `orders/paid` "
        "(JSON) to this URL. Verified by `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the "
        "body with the app's client secret; the previous secret stays valid for the rotation "
        "window); stored once per `X-Shopify-Webhook-Id` and per `X-Shopify-Event-Id`. "
        "docs/integrations/shopify.md.",
        ShopifyPayloadSerializer,
    )
    def post(self, request: Request, site_key: str) -> Response:
        return self.handle(request, site_key)


class WooCommerceWebhookView(_PlatformWebhookView):
    platform = Platform.WOOCOMMERCE

    @_webhook_schema(
        "WooCommerce",
        ["X-WC-Webhook-Topic", "X-WC-Webhook-Signature", "X-WC-Webhook-Delivery-ID"],
        "Create `order.created` and `order.updated` webhooks (API version WP REST API "
        "Integration v3) with this delivery URL and the connection's secret. Verified by "
        "`X-WC-Webhook-Signature` (base64 HMAC-SHA256 of the body); stored once per "
        "`X-WC-Webhook-Delivery-ID`. The unsigned, form-encoded ping WooCommerce sends when a "
        'webhook is saved (`webhook_id=<id>`) is answered `{"ping": true}` and stores '
        "nothing. docs/integrations/woocommerce.md.",
        WooCommercePayloadSerializer,
    )
    def post(self, request: Request, site_key: str) -> Response:
        return self.handle(request, site_key)


class PixelBatchSerializer(serializers.Serializer):
    site_key = serializers.CharField(max_length=64)
    event = serializers.DictField(
        help_text="The Web Pixel event, as `analytics.subscribe` gave it."
    )
    cart_id = serializers.CharField(
        max_length=64, required=False, help_text="The checkout token the pixel last saw."
    )
    visitor_id = serializers.CharField(
        max_length=64, required=False, help_text="The widget's visitor id, when the pixel has it."
    )


class ShopifyPixelView(_EventsView):
    """Standard events from the custom Web Pixel (static/integrations/shopify-pixel.js)."""

    throttle_scope = "widget_events"
    source = EventSource.WIDGET

    @extend_schema(
        operation_id="shopify_pixel_events",
        summary="Checkout events from the Shopify custom pixel",
        description=(
            "The pixel runs in Shopify's sandbox, so its requests carry `Origin: null`: "
            "accepted here (and from the site's allowed origins), provided the page the event "
            "happened on (`event.context.document.location.origin`) is one of the site's "
            "allowed origins. Events are browser-reported (untrusted, like the widget's). "
            "`checkout_shipping_info_submitted`, `payment_info_submitted` and "
            "`alert_displayed` are mapped; other events are accepted and ignored."
        ),
        request={"text/plain": PixelBatchSerializer, "application/json": PixelBatchSerializer},
        responses={
            200: IngestResultSerializer,
            **WIDGET_REFUSALS,
            **BODY_REFUSALS,
            **throttled("CARTASSIST_WIDGET_RATE, per site key"),
        },
        tags=["integrations"],
    )
    def post(self, request: Request) -> Response:
        body = read_body(request._request)
        payload = parse_json_object(request._request, body)
        site = site_for_key(payload.get("site_key"), field="site_key")
        origin = request.META.get("HTTP_ORIGIN")
        if not origin or (origin != "null" and not site.origin_is_allowed(origin)):
            raise PermissionDenied(
                {"origin": ["Send from the Shopify pixel or an allowed origin."]}
            )
        event = payload.get("event")
        if not isinstance(event, dict):
            raise DRFValidationError({"event": ["Send the pixel event as an object."]})
        if not site.origin_is_allowed(pixel_origin(event)):
            raise PermissionDenied(
                {"event": ["The event's page (context.document.location.origin) is not allowed."]}
            )
        hints = {k: payload.get(k) for k in ("cart_id", "visitor_id")}
        events = pixel_events(
            event,
            cart_hint=hints["cart_id"] if isinstance(hints["cart_id"], str) else "",
            visitor_hint=hints["visitor_id"] if isinstance(hints["visitor_id"], str) else "",
        )
        if not events:
            self.throttle_check(self.throttle_send(request, site))
            return Response({"stored": [], "duplicates": []})
        return self.ingest(request, site, lambda: {"events": events}, timezone.now())


class DiscountRequestSerializer(serializers.Serializer):
    site_key = serializers.CharField(max_length=64)
    token = serializers.CharField(
        max_length=1024, help_text="The grant's token (`cartassist:grant`)."
    )


class DiscountSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DiscountStatus.choices)
    code = serializers.CharField(allow_null=True, help_text="Once created: the platform's code.")
    url = serializers.CharField(
        allow_null=True, help_text="Once created: the link that applies it and opens checkout."
    )
    detail = serializers.CharField(required=False)


class NativeDiscountView(APIView):
    """The page asks for the native discount of the grant it just received."""

    parser_classes: list[Any] = []
    throttle_classes: list[Any] = []

    @extend_schema(
        operation_id="native_discount",
        summary="The platform discount code of a grant (browser)",
        description=(
            "After `cartassist:grant`, the shop page sends the grant's token. `200` with the "
            "code and the link that applies it (Shopify: `/discount/<code>?redirect=/checkout`) "
            "once the platform created it; `202` while it is being created (ask again in a "
            "second or two); `409` when the platform refused it or the remedy has no native "
            "discount (`detail` says why; admin shows it too)."
        ),
        request={
            "text/plain": DiscountRequestSerializer,
            "application/json": DiscountRequestSerializer,
        },
        responses={
            200: DiscountSerializer,
            202: DiscountSerializer,
            404: refusal("This grant has no native discount (the site has no connection)."),
            409: DiscountSerializer,
            **BODY_REFUSALS,
            403: refusal(
                "Unknown site key, Origin not allowed, or a grant token this site did not "
                "issue (`code`: `invalid_token`)."
            ),
        },
        tags=["integrations"],
    )
    def post(self, request: Request) -> Response:
        now = timezone.now()
        body = read_body(request._request)
        payload = parse_json_object(request._request, body)
        site = widget_site(request._request, payload.get("site_key"))
        token = payload.get("token")
        try:
            discount = native_discount_for_token(site=site, token=token, now=now)  # type: ignore[arg-type]
        except GrantError as error:
            return Response({"detail": error.message, "code": error.code}, status=error.status)
        if discount is None:
            raise NotFound("This grant has no native discount.")
        if discount.status in (DiscountStatus.CREATED, DiscountStatus.REDEEMED):
            return Response(
                {"status": discount.status, "code": discount.code, "url": discount.link}
            )
        if discount.status in (DiscountStatus.REFUSED, DiscountStatus.UNSUPPORTED):
            return Response(
                {"status": discount.status, "code": None, "url": None, "detail": discount.error},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(
            {"status": discount.status, "code": None, "url": None},
            status=status.HTTP_202_ACCEPTED,
        )

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_cors_headers(request, response)
        return response

    @extend_schema(exclude=True)
    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)
