"""The agent console (server-rendered shell + JSON for panels) and the public
verification page. The live parts go over the console WebSocket (docs/REALTIME.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from agents.errors import ChatError
from agents.models import AgentProfile, Conversation, Disposition, InvitationStatus
from agents.permissions import console_agent
from agents.selectors import cart_panel, invitation_by_code, saved_replies
from agents.services.conversations import conversation_for_agent
from agents.services.presence import agents_with_load, effective_status
from cartassist.api.throttles import VerificationThrottle
from cartassist.domain.ratelimit import retry_after_header
from cartassist.models import (
    Cart,
    EventType,
    FollowUpReason,
    InvitationResult,
    Stage,
    StallReason,
    SuppressionReason,
)
from policies.selectors import conversation_offers, pending_approvals
from policies.services.remedies import conversation_remedies_list


def _agent_or_none(request: HttpRequest) -> AgentProfile | None:
    return console_agent(request.user)


class ConsoleLoginView(auth_views.LoginView):
    template_name = "agents/login.html"
    redirect_authenticated_user = True
    next_page = "/console/"


@require_GET
def console(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"/console/login/?next={request.path}")
    agent = _agent_or_none(request)
    if agent is None:
        return render(request, "agents/forbidden.html", status=403)
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
def conversation_cart(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """The cart panel of a conversation the agent may see."""
    agent = _agent_or_none(request)
    if agent is None:
        return JsonResponse({"detail": "Log in as an agent."}, status=403)
    qs = Conversation.objects.select_related("cart", "invitation").filter(
        pk=conversation_id, site_id=agent.site_id
    )
    if not agent.is_supervisor:
        qs = qs.filter(agent=agent)
    conversation = qs.first()
    if conversation is None or conversation.cart is None:
        return JsonResponse({"detail": "No such conversation."}, status=404)
    panel = cart_panel(cart=conversation.cart)
    if conversation.invitation:
        panel["stall_reason"] = conversation.invitation.stall_reason
    return JsonResponse(panel)


@require_GET
def cart_detail(request: HttpRequest, cart_id: int) -> JsonResponse:
    """The cart panel for a stalled cart in the queue (before anyone reaches out)."""
    agent = _agent_or_none(request)
    if agent is None:
        return JsonResponse({"detail": "Log in as an agent."}, status=403)
    cart = Cart.objects.filter(pk=cart_id, site_id=agent.site_id).first()
    if cart is None:
        return JsonResponse({"detail": "No such cart."}, status=404)
    return JsonResponse(cart_panel(cart=cart))


@require_GET
def console_saved_replies(request: HttpRequest) -> JsonResponse:
    agent = _agent_or_none(request)
    if agent is None:
        return JsonResponse({"detail": "Log in as an agent."}, status=403)
    reason = request.GET.get("stall_reason", "")[:32]
    return JsonResponse(
        {"saved_replies": saved_replies(site_id=agent.site_id, stall_reason=reason)}
    )


@require_GET
def console_agents(request: HttpRequest) -> JsonResponse:
    """Colleagues, for transfers."""
    agent = _agent_or_none(request)
    if agent is None:
        return JsonResponse({"detail": "Log in as an agent."}, status=403)
    now = timezone.now()
    return JsonResponse(
        {
            "agents": [
                {
                    "id": a.agent.pk,
                    "display_name": a.agent.display_name,
                    "status": effective_status(a.agent, now),
                    "load": a.load,
                    "capacity": a.agent.capacity,
                }
                for a in agents_with_load(site_id=agent.site_id)
            ]
        }
    )


@require_GET
def verify_page(request: HttpRequest, code: str) -> HttpResponse:
    """Public page: is this invitation genuine? (credibility). Rate-limited per client
    address like the verification API, and counted together with it."""
    throttle = VerificationThrottle()
    if not throttle.allow_request(request, None):
        retry_after = retry_after_header(throttle.wait() or 0)
        response = render(
            request, "agents/verify.html", {"retry_after": retry_after, "code": ""}, status=429
        )
        response["Retry-After"] = retry_after
        return response
    invitation = invitation_by_code(code)
    return render(
        request,
        "agents/verify.html",
        {"invitation": invitation, "code": code[:16]},
        status=200 if invitation else 404,
    )


@require_GET
def conversation_remedies(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """The remedies panel: what this agent may offer in this chat now, and why (not)."""
    agent = _agent_or_none(request)
    if agent is None:
        return JsonResponse({"detail": "Log in as an agent."}, status=403)
    try:
        conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    except ChatError:
        return JsonResponse({"detail": "No such conversation."}, status=404)
    conversation = Conversation.objects.select_related("cart__site", "invitation").get(
        pk=conversation.pk
    )
    if conversation.cart is None:
        return JsonResponse({"detail": "This conversation has no cart."}, status=404)
    panel = conversation_remedies_list(agent=agent, conversation=conversation, now=timezone.now())
    panel["offers"] = conversation_offers(conversation_id=conversation.pk)
    return JsonResponse(panel)


@require_GET
def console_approvals(request: HttpRequest) -> JsonResponse:
    agent = _agent_or_none(request)
    if agent is None or not agent.is_supervisor:
        return JsonResponse({"detail": "Supervisors only."}, status=403)
    return JsonResponse({"approvals": pending_approvals(site_id=agent.site_id)})
