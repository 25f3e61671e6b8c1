"""Chat HTTP endpoints: visitor tokens for the widget socket, invitation verification."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.selectors import invitation_by_code
from agents.tokens import visitor_token_issue
from cartassist.api.auth import widget_site
from cartassist.api.body import parse_json_object, read_body
from cartassist.api.schema import BODY_REFUSALS, WIDGET_REFUSALS, throttled
from cartassist.api.serializers import IdField
from cartassist.api.throttles import VerificationThrottle, WidgetSessionThrottle
from cartassist.api.views import add_cors_headers


class SessionRequestSerializer(serializers.Serializer):
    site_key = serializers.CharField(max_length=64)
    visitor_id = IdField()


class SessionResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    socket_url = serializers.CharField(help_text="Path of the widget WebSocket; add ?token=…")


class WidgetSessionView(APIView):
    """A signed, expiring visitor token for the widget WebSocket."""

    parser_classes: list[Any] = []
    throttle_classes = [WidgetSessionThrottle]

    @extend_schema(
        operation_id="widget_session_create",
        summary="Get a visitor token for the widget socket",
        description=(
            "Browser-only, like the events endpoint: the Origin must be on the site's "
            "allow-list. The token names the site and the visitor and grants access to that "
            "visitor's invitations and conversations only. See docs/REALTIME.md."
        ),
        # By media type: the view reads the body itself (api/body.py); the widget sends
        # text/plain, which needs no CORS preflight.
        request={
            "application/json": SessionRequestSerializer,
            "text/plain": SessionRequestSerializer,
        },
        responses={
            200: SessionResponseSerializer,
            **BODY_REFUSALS,
            **WIDGET_REFUSALS,
            **throttled("CARTASSIST_WIDGET_SESSION_RATE per client address"),
        },
        tags=["chat"],
    )
    def post(self, request: Request) -> Response:
        payload = parse_json_object(request._request, read_body(request._request))
        site = widget_site(request._request, payload.get("site_key"))
        serializer = SessionRequestSerializer(data=payload)
        serializer.is_valid(raise_exception=True)
        token, expires_at = visitor_token_issue(
            site_id=site.pk, visitor_id=serializer.validated_data["visitor_id"], now=timezone.now()
        )
        return Response(
            {"token": token, "expires_at": expires_at, "socket_url": "/ws/widget/"},
            status=status.HTTP_200_OK,
        )

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_cors_headers(request, response)
        return response

    @extend_schema(exclude=True)
    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerificationSerializer(serializers.Serializer):
    genuine = serializers.BooleanField()
    shop = serializers.CharField(required=False)
    sent_at = serializers.DateTimeField(required=False)
    expires_at = serializers.DateTimeField(required=False)
    agent_name = serializers.CharField(required=False)
    topic = serializers.CharField(required=False)


class VerificationView(APIView):
    """Is this invitation code genuine? For the shop's own verification page."""

    throttle_classes = [VerificationThrottle]

    @extend_schema(
        operation_id="invitation_verify",
        summary="Check that an invitation's verification code is genuine",
        description=(
            "Public. 200 with the shop's name, when the invitation was sent and what about, "
            "or 404 `{genuine: false}`. Rate-limited per client address (guessing codes is "
            "pointless: 30^8 combinations). See docs/VERIFICATION.md."
        ),
        responses={
            200: VerificationSerializer,
            404: VerificationSerializer,
            **throttled("CARTASSIST_VERIFICATION_RATE per client address"),
        },
        tags=["chat"],
    )
    def get(self, request: Request, code: str) -> Response:
        invitation = invitation_by_code(code)
        if invitation is None:
            return Response({"genuine": False}, status=status.HTTP_404_NOT_FOUND)
        return Response(verification_payload(invitation))


def verification_payload(invitation: Any) -> dict[str, Any]:
    return {
        "genuine": True,
        "shop": invitation.site.name,
        "sent_at": invitation.sent_at,
        "expires_at": invitation.expires_at,
        "agent_name": invitation.agent.display_name if invitation.agent else "",
        "topic": invitation.headline,
    }
