"""Chat HTTP endpoints: visitor tokens for the widget socket, invitation verification."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.payloads import site_payload
from agents.selectors import invitation_by_code
from agents.tokens import visitor_token_issue
from cartassist.api.auth import widget_site
from cartassist.api.body import parse_json_object, read_body
from cartassist.api.schema import BODY_REFUSALS, WIDGET_REFUSALS, refusal, throttled
from cartassist.api.serializers import IdField
from cartassist.api.throttles import VerificationThrottle, WidgetSessionThrottle
from cartassist.api.views import add_cors_headers
from cartassist.carts.models import Site
from cartassist.carts.services.visitors import visitor_language_record
from cartassist.domain.branding import LANGUAGE_TAG_MAX_LENGTH, language_tag_problem
from cartassist.flows.shopper_email import widget_resume


def _validate_language(value: str) -> None:
    # An over-long tag is refused once, by max_length.
    problem = None if len(value) > LANGUAGE_TAG_MAX_LENGTH else language_tag_problem(value)
    if problem:
        raise serializers.ValidationError(problem)


def widget_request(
    request: Request, serializer_class: type[serializers.Serializer]
) -> tuple[Site, dict[str, Any]]:
    """A browser request's site (key + Origin, ``widget_site``) and validated body: read
    bounded (``api/body.py``), JSON or text/plain, so no CORS preflight is needed."""
    payload = parse_json_object(request._request, read_body(request._request))
    site = widget_site(request._request, payload.get("site_key"))
    serializer = serializer_class(data=payload)
    serializer.is_valid(raise_exception=True)
    return site, dict(serializer.validated_data)


# By media type: the views read the body themselves (api/body.py); the widget sends
# text/plain, which needs no CORS preflight.
def widget_body(serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    return {"application/json": serializer_class, "text/plain": serializer_class}


class SessionRequestSerializer(serializers.Serializer):
    site_key = serializers.CharField(max_length=64)
    visitor_id = IdField()
    language = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=LANGUAGE_TAG_MAX_LENGTH,
        validators=[_validate_language],
        help_text="The shopper's language as a BCP 47 tag (the init option `language`, "
        "else the page's `<html lang>`), e.g. `de-AT`. Resolved to one of the site's "
        "languages; omitted or empty: the language remembered for this visitor, else the "
        "site's first.",
    )


class SiteBrandingSerializer(serializers.Serializer):
    display_name = serializers.CharField(help_text="The shop's name as shoppers know it.")
    brand_colour = serializers.CharField(help_text="#rrggbb for the launcher and buttons.")
    text_colour = serializers.CharField(
        help_text="#ffffff or #111827: the text colour that reads best on brand_colour."
    )
    logo_url = serializers.CharField(
        allow_blank=True, help_text="https address of the shop's logo, or empty."
    )
    languages = serializers.ListField(
        child=serializers.CharField(), help_text="The site's languages; the first is the fallback."
    )
    currency = serializers.CharField(help_text="ISO 4217 code of the site's currency.")
    timezone = serializers.CharField(help_text="IANA time zone of the shop, e.g. Europe/Berlin.")


class SessionResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    socket_url = serializers.CharField(help_text="Path of the widget WebSocket; add ?token=…")
    language = serializers.CharField(
        help_text="The language to speak to this shopper: one of site.languages."
    )
    site = SiteBrandingSerializer(help_text="How the widget looks: the shop's branding.")


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
            "visitor's invitations and conversations only. The answer also says which of the "
            "site's languages to speak (remembered for this visitor: invitations use it) and "
            "carries the site's branding. See docs/REALTIME.md and docs/WIDGET.md."
        ),
        request=widget_body(SessionRequestSerializer),
        responses={
            200: SessionResponseSerializer,
            **BODY_REFUSALS,
            **WIDGET_REFUSALS,
            **throttled("CARTASSIST_WIDGET_SESSION_RATE per client address"),
        },
        tags=["chat"],
    )
    def post(self, request: Request) -> Response:
        site, data = widget_request(request, SessionRequestSerializer)
        visitor_id = data["visitor_id"]
        token, expires_at = visitor_token_issue(
            site_id=site.pk, visitor_id=visitor_id, now=timezone.now()
        )
        language = visitor_language_record(
            site=site, visitor_id=visitor_id, requested=data.get("language")
        )
        return Response(
            {
                "token": token,
                "expires_at": expires_at,
                "socket_url": "/ws/widget/",
                "language": language,
                "site": site_payload(site),
            },
            status=status.HTTP_200_OK,
        )

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_cors_headers(request, response)
        return response

    @extend_schema(exclude=True)
    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResumeRequestSerializer(serializers.Serializer):
    site_key = serializers.CharField(max_length=64)
    token = serializers.CharField(
        max_length=512, help_text="The `cartassist_resume` parameter of the email's link."
    )


class ResumeResponseSerializer(serializers.Serializer):
    visitor_id = serializers.CharField(help_text="Continue as this visitor (its chat, offers).")
    conversation_id = serializers.IntegerField(help_text="The chat the email was about.")


class WidgetResumeView(WidgetSessionView):
    """The widget on the shop's page continues the chat an email's link names."""

    throttle_classes = [WidgetSessionThrottle]

    @extend_schema(
        operation_id="widget_resume",
        summary="Continue the chat of an email's link in the widget",
        description=(
            "Browser-only, like the session endpoint (Origin on the site's allow-list). "
            "The widget finds `cartassist_resume=<token>` in the page's address (the link "
            "of an email to a shopper who left a chat), exchanges it here for the visitor "
            "it was sent to, continues as that visitor and opens the chat. A chat closed "
            "because the shopper timed out is opened again (back in the queue). 404 when "
            "the token is forged, expired (CARTASSIST_EMAIL_RESUME_TTL_HOURS) or another "
            'site\'s. See docs/REALTIME.md, "Email to a shopper who left".'
        ),
        request=widget_body(ResumeRequestSerializer),
        responses={
            200: ResumeResponseSerializer,
            404: refusal("The token is forged, expired or names another site's email."),
            **BODY_REFUSALS,
            **WIDGET_REFUSALS,
            **throttled("CARTASSIST_WIDGET_SESSION_RATE per client address"),
        },
        tags=["chat"],
    )
    def post(self, request: Request) -> Response:
        site, data = widget_request(request, ResumeRequestSerializer)
        resumed = widget_resume(site=site, token=data["token"], now=timezone.now())
        if resumed is None:
            raise exceptions.NotFound("This link has expired or is not valid.")
        return Response(
            {"visitor_id": resumed.visitor_id, "conversation_id": resumed.conversation_id}
        )


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
        "shop": invitation.site.shopper_facing_name,
        "sent_at": invitation.sent_at,
        "expires_at": invitation.expires_at,
        "agent_name": invitation.agent.display_name if invitation.agent else "",
        "topic": invitation.headline,
    }
