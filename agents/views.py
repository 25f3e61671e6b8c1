"""The agent console (server-rendered shell + JSON for panels) and the public
verification page. The live parts go over the console WebSocket (docs/REALTIME.md)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from agents.errors import NotFound
from agents.models import AgentProfile, Disposition, Invitation, InvitationStatus
from agents.payloads import OFFER_LABELS
from agents.permissions import console_agent
from agents.selectors import (
    console_colleagues,
    conversation_cart_panel,
    invitation_by_code,
    saved_replies,
    site_cart_panel,
)
from agents.services.shopper_emails import shopper_unsubscribe
from agents.tokens import email_unsubscribe_verify
from cartassist.api.throttles import VerificationThrottle
from cartassist.carts.models import (
    EventType,
    FollowUpReason,
    InvitationResult,
    Stage,
    StallReason,
    SuppressionReason,
)
from cartassist.domain.branding import text_colour_on
from cartassist.domain.formatting import format_moment, format_money
from cartassist.domain.ratelimit import retry_after_header
from cartassist.flows.console import console_remedies
from cartassist.flows.shopper_email import shopper_email_resume_page
from policies.selectors import conversation_offers, pending_approvals

P = ParamSpec("P")
AgentView = Callable[Concatenate[HttpRequest, AgentProfile, P], HttpResponse]
View = Callable[Concatenate[HttpRequest, P], HttpResponse]


def agent_required(
    *, page: bool = False, supervisors_only: bool = False
) -> Callable[[AgentView[P]], View[P]]:
    """Call the view with the console agent of the request (``console_agent``), or refuse.

    The page sends anonymous visitors to the console login and shows others a 403 page.
    A JSON endpoint answers 403 ``{"detail": …}`` to anyone who is not an agent (not a
    supervisor, with ``supervisors_only``), and 404 ``{"detail": …}`` when the view
    raises ``NotFound`` (another agent's chat looks like a missing one).
    """
    refusal = "Supervisors only." if supervisors_only else "Log in as an agent."

    def decorate(view: AgentView[P]) -> View[P]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            if page and not request.user.is_authenticated:
                return redirect(f"/console/login/?next={request.path}")
            agent = console_agent(request.user)
            if agent is None or (supervisors_only and not agent.is_supervisor):
                if page:
                    return render(request, "agents/forbidden.html", status=403)
                return JsonResponse({"detail": refusal}, status=403)
            try:
                return view(request, agent, *args, **kwargs)
            except NotFound as error:
                if page:
                    raise
                return JsonResponse({"detail": error.message}, status=404)

        return wrapper

    return decorate


class ConsoleLoginView(auth_views.LoginView):
    template_name = "agents/login.html"
    redirect_authenticated_user = True
    next_page = "/console/"


@require_GET
@agent_required(page=True)
def console(request: HttpRequest, agent: AgentProfile) -> HttpResponse:
    return render(
        request,
        "agents/console.html",
        {
            "agent": agent,
            "max_message_length": settings.CARTASSIST_MAX_MESSAGE_LENGTH,
            "dispositions": Disposition.choices,
            "follow_up_reasons": FollowUpReason.choices,
            "labels": {
                "stall_reason": dict(StallReason.choices),
                "stage": dict(Stage.choices),
                "suppression_reason": dict(SuppressionReason.choices),
                "event_type": dict(EventType.choices),
                "invitation_status": dict(InvitationStatus.choices),
                "invitation_result": dict(InvitationResult.choices),
                "follow_up_reason": dict(FollowUpReason.choices),
            },
        },
    )


@require_GET
@agent_required()
def conversation_cart(
    request: HttpRequest, agent: AgentProfile, conversation_id: int
) -> JsonResponse:
    """The cart panel of a conversation the agent may see."""
    return JsonResponse(conversation_cart_panel(agent=agent, conversation_id=conversation_id))


@require_GET
@agent_required()
def cart_detail(request: HttpRequest, agent: AgentProfile, cart_id: int) -> JsonResponse:
    """The cart panel for a stalled cart in the queue (before anyone reaches out)."""
    return JsonResponse(site_cart_panel(site_id=agent.site_id, cart_id=cart_id))


@require_GET
@agent_required()
def console_saved_replies(request: HttpRequest, agent: AgentProfile) -> JsonResponse:
    reason = request.GET.get("stall_reason", "")[:32]
    return JsonResponse(
        {"saved_replies": saved_replies(site_id=agent.site_id, stall_reason=reason)}
    )


@require_GET
@agent_required()
def console_agents(request: HttpRequest, agent: AgentProfile) -> JsonResponse:
    """Colleagues, for transfers."""
    return JsonResponse({"agents": console_colleagues(site_id=agent.site_id, now=timezone.now())})


# Offers the shopper saw and may hold: open, or accepted (a grant was issued).
SHOWN_OFFER_STATUSES = {"offered", "accepted"}


def _page_language(request: HttpRequest, invitation: Invitation | None) -> str:
    """The verification page's language: ``?lang=`` when it is a shipped language (the
    widget links with the shopper's), else the language the invitation was sent in,
    else the browser's (``LocaleMiddleware``, from Accept-Language)."""
    shipped = {code for code, _name in settings.LANGUAGES}
    requested = request.GET.get("lang", "")[:16].lower().split("-")[0]
    if requested in shipped:
        return requested
    if invitation is not None and invitation.language in shipped:
        return invitation.language
    return translation.get_language_from_request(request)


def _verified_offers(invitation: Invitation, language: str) -> list[dict[str, str]]:
    """The offers made in the chat opened from ``invitation`` that the shopper saw, with
    their amounts in the page's language (a shopper may check that an offer is real)."""
    conversation = getattr(invitation, "conversation", None)
    if conversation is None:
        return []
    shown = []
    for offer in conversation_offers(conversation_id=conversation.pk):
        if offer["status"] not in SHOWN_OFFER_STATUSES:
            continue
        amount = offer["amount"]
        shown.append(
            {
                "label": str(OFFER_LABELS.get(offer["kind"], offer["kind"])),
                "amount": format_money(Decimal(amount), offer["currency"], language)
                if amount is not None
                else "",
                "accepted": offer["status"] == "accepted",
            }
        )
    return shown


def _verify_context(invitation: Invitation | None, language: str) -> dict[str, Any]:
    if invitation is None:
        return {}
    site = invitation.site
    return {
        "shop": site.shopper_facing_name,
        "brand_colour": site.brand_colour,
        "text_colour": text_colour_on(site.brand_colour),
        "logo_url": site.logo_url,
        "sent": format_moment(invitation.sent_at, site.timezone, language),
        "agent_name": invitation.agent.first_name if invitation.agent else "",
        "offers": _verified_offers(invitation, language),
    }


@require_GET
def verify_page(request: HttpRequest, code: str) -> HttpResponse:
    """Public page: is this invitation genuine? (credibility). In the shopper's language,
    with the shop's branding, the time in the shop's time zone and the offers of the chat
    (docs/VERIFICATION.md). Rate-limited per client address like the verification API,
    and counted together with it."""
    throttle = VerificationThrottle()
    if not throttle.allow_request(request, None):
        retry_after = retry_after_header(throttle.wait() or 0)
        language = _page_language(request, None)
        with translation.override(language):
            response = render(
                request,
                "agents/verify.html",
                {"retry_after": retry_after, "code": "", "language": language},
                status=429,
            )
        response["Retry-After"] = retry_after
        response["Content-Language"] = language
        return response
    invitation = invitation_by_code(code)
    language = _page_language(request, invitation)
    with translation.override(language):
        response = render(
            request,
            "agents/verify.html",
            {
                "invitation": invitation,
                "code": code[:16],
                "language": language,
                **_verify_context(invitation, language),
            },
            status=200 if invitation else 404,
        )
    response["Content-Language"] = language
    return response


@require_GET
@agent_required()
def conversation_remedies(
    request: HttpRequest, agent: AgentProfile, conversation_id: int
) -> JsonResponse:
    """The remedies panel: what this agent may offer in this chat now, and why (not)."""
    return JsonResponse(
        console_remedies(agent=agent, conversation_id=conversation_id, now=timezone.now())
    )


@require_GET
@agent_required(supervisors_only=True)
def console_approvals(request: HttpRequest, agent: AgentProfile) -> JsonResponse:
    return JsonResponse({"approvals": pending_approvals(site_id=agent.site_id)})


def _shopper_page(
    request: HttpRequest, template: str, context: dict[str, Any], language: str, status: int
) -> HttpResponse:
    with translation.override(language):
        response = render(request, template, {"language": language, **context}, status=status)
    response["Content-Language"] = language
    response["Referrer-Policy"] = "no-referrer"  # the token stays out of Referer headers
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def email_resume_page(request: HttpRequest, token: str) -> HttpResponse:
    """Public page an email's link opens (docs/REALTIME.md, "Email to a shopper who
    left"): the chat's last message, its offers as they stand, the verification code,
    and the way back into the chat on the shop's page. An expired or forged link: 404."""
    context = shopper_email_resume_page(token=token, now=timezone.now())
    if context is None:
        language = _page_language(request, None)
        return _shopper_page(request, "agents/resume.html", {}, language, 404)
    return _shopper_page(request, "agents/resume.html", context, context["language"], 200)


@csrf_exempt  # RFC 8058: the mail client posts without cookies; the signed token is the check
@require_http_methods(["GET", "POST"])
def email_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The email's unsubscribe link. GET shows a confirmation button (mail scanners
    follow links: a GET never opts anyone out); POST opts the shopper out — the button,
    or the one-click POST of RFC 8058 (``List-Unsubscribe=One-Click``)."""
    target = email_unsubscribe_verify(token)
    language = _page_language(request, None)
    if target is None:
        return _shopper_page(request, "agents/unsubscribe.html", {"invalid": True}, language, 404)
    done = request.method == "POST"
    if done:
        shopper_unsubscribe(
            site_id=target.site_id, visitor_id=target.visitor_id, now=timezone.now()
        )
    return _shopper_page(request, "agents/unsubscribe.html", {"done": done}, language, 200)
