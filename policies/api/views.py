"""Grant verification and redemption for the shop backend (signed like server events)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cartassist.api.auth import server_site
from cartassist.api.body import parse_json_object, read_body
from cartassist.api.schema import BODY_REFUSALS, SIGNATURE_HEADERS, SIGNED_REFUSALS, refusal
from cartassist.api.serializers import IdField
from policies.engine.money import quantize
from policies.models import Grant
from policies.services.grants import GrantError, grant_redeem, grant_verify


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1024)


class RedeemSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1024)
    order_id = IdField()


class GrantSerializer(serializers.Serializer):
    grant_id = serializers.CharField(
        help_text="The grant's id, as in the grant.issued and grant.redeemed webhooks."
    )
    valid = serializers.BooleanField()
    kind = serializers.CharField()
    amount = serializers.CharField(
        allow_null=True, help_text="Decimal string; null for non-monetary remedies."
    )
    currency = serializers.CharField()
    cart_id = serializers.CharField()
    expires_at = serializers.DateTimeField()
    redeemed = serializers.BooleanField()
    order_id = serializers.CharField(allow_blank=True)
    replayed = serializers.BooleanField(required=False)


def grant_result(grant: Grant, *, now: Any, replayed: bool | None = None) -> dict[str, Any]:
    result = {
        "grant_id": grant.token_id,
        "valid": grant.redeemed_at is None
        and grant.expires_at > now
        and grant.currency == grant.cart.currency,
        "kind": grant.kind,
        "amount": None if grant.amount is None else str(quantize(grant.amount, grant.currency)),
        "currency": grant.currency,
        "cart_id": grant.cart.external_id,
        "expires_at": grant.expires_at,
        "redeemed": grant.redeemed_at is not None,
        "order_id": grant.order_id,
    }
    if replayed is not None:
        result["replayed"] = replayed
    return result


class _GrantView(APIView):
    parser_classes: list[Any] = []

    def get_authenticate_header(self, request: Request) -> str:
        return 'CartAssist-HMAC realm="api"'

    def _input(
        self, request: Request, serializer_class: type[serializers.Serializer]
    ) -> tuple[Any, dict[str, Any]]:
        now = timezone.now()
        body = read_body(request._request)
        site = server_site(request._request, body, now=now)
        serializer = serializer_class(data=parse_json_object(request._request, body))
        serializer.is_valid(raise_exception=True)
        return site, dict(serializer.validated_data)


def _error(error: GrantError) -> Response:
    return Response({"detail": error.message, "code": error.code}, status=error.status)


class GrantVerifyView(_GrantView):
    @extend_schema(
        operation_id="grant_verify",
        summary="Verify a grant token (shop backend, signed)",
        description="Checks the signature, the site and the stored grant; does not redeem it.",
        parameters=SIGNATURE_HEADERS,
        request={"application/json": TokenSerializer},
        responses={
            200: GrantSerializer,
            **BODY_REFUSALS,
            **SIGNED_REFUSALS,
            403: refusal("`invalid_token`: not issued for this site, altered, or unknown."),
        },
        tags=["grants"],
    )
    def post(self, request: Request) -> Response:
        site, data = self._input(request, TokenSerializer)
        now = timezone.now()
        try:
            grant = grant_verify(site=site, token=data["token"], now=now)
        except GrantError as error:
            return _error(error)
        return Response(grant_result(grant, now=now))


class GrantRedeemView(_GrantView):
    @extend_schema(
        operation_id="grant_redeem",
        summary="Redeem a grant for an order (shop backend, signed, idempotent)",
        description=(
            "Single use. Redeeming again for the same order, or with the same Idempotency-Key, "
            "returns the original result with `replayed: true`. Another order, or a cart whose "
            "currency is no longer the grant's → 409; expired → 410; a token altered or issued "
            "for another site → 403."
        ),
        parameters=[
            *SIGNATURE_HEADERS,
            OpenApiParameter(
                "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False
            ),
        ],
        request={"application/json": RedeemSerializer},
        responses={
            200: GrantSerializer,
            **BODY_REFUSALS,
            **SIGNED_REFUSALS,
            403: refusal("`invalid_token`: not issued for this site, altered, or unknown."),
            409: refusal(
                "`already_redeemed`: already redeemed for another order; `currency_changed`: "
                "the cart's currency changed since the grant was issued."
            ),
            410: refusal("`expired`: the grant expired before it was redeemed."),
        },
        tags=["grants"],
    )
    def post(self, request: Request) -> Response:
        site, data = self._input(request, RedeemSerializer)
        key = request.META.get("HTTP_IDEMPOTENCY_KEY", "")[:128]
        now = timezone.now()
        try:
            redemption = grant_redeem(
                site=site,
                token=data["token"],
                order_id=data["order_id"],
                idempotency_key=key,
                now=now,
            )
        except GrantError as error:
            return _error(error)
        return Response(
            grant_result(redemption.grant, now=now, replayed=redemption.replayed),
            status=status.HTTP_200_OK,
        )
