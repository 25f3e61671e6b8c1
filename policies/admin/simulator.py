"""The policy simulator: what would an agent be allowed to offer for this cart, and why?

A staff page (``policies.view_policy``) reached from the policy list. The merchandiser
picks a recent cart of a site or enters one, picks an agent (or none, or a supervisor),
and sees every remedy: allowed with its bound and the policy version that allows it, or
not allowed with the reason. For a picked cart it calls the service behind the console's
remedies panel (``policies.services.remedies.remedies_list``), with the stall reason an
agent chatting about that cart is given, so the two cannot disagree. It reads the current
policy versions and the real budget counters, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from agents.models import AgentProfile
from cartassist.carts.models import Cart, Site, Stage, StallReason
from policies.admin.fields import SEGMENT_CHOICES, CommaSeparatedField
from policies.engine import Allowed, CartFacts, CartLine, Segment
from policies.engine.money import MoneyError, is_known_currency, parse_amount
from policies.services.context import AgentLike, StandInAgent
from policies.services.remedies import (
    RemediesList,
    RemedyOption,
    entered_cart_remedies_list,
    remedies_list,
)

RECENT_CARTS = 50
NO_AGENT = ""
SUPERVISOR = "supervisor"


class SimulatorForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.order_by("name"))
    cart = forms.ChoiceField(
        required=False,
        help_text=f"One of the site's {RECENT_CARTS} most recently active carts. Leave empty "
        "to enter a cart below.",
    )
    agent = forms.ChoiceField(required=False)
    # An entered cart (used when no recent cart is picked).
    value = forms.DecimalField(required=False, min_value=0, label="Cart value")
    currency = forms.CharField(
        required=False, max_length=3, help_text="Empty: the site's currency."
    )
    stage = forms.ChoiceField(choices=Stage.choices, initial=Stage.SHIPPING, required=False)
    delivery_charge = forms.DecimalField(required=False, min_value=0)
    stall_reason = forms.ChoiceField(
        choices=[("", "— as in the cart's chat (or its last stall) —"), *StallReason.choices],
        required=False,
        help_text="For a picked cart, empty uses the reason an agent chatting about it is "
        "given: its latest chat's, or with no chat yet the one the sweep recorded last.",
    )
    segment = forms.ChoiceField(choices=SEGMENT_CHOICES, initial=Segment.NEW.value, required=False)
    country = forms.CharField(required=False, max_length=2, help_text="e.g. DE")
    categories = CommaSeparatedField(help_text="Categories in the cart, comma-separated.")
    skus = CommaSeparatedField(help_text="SKUs in the cart, comma-separated.")

    def __init__(self, *args: Any, site: Site | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        carts = Cart.objects.none()
        agents = AgentProfile.objects.none()
        if site is not None:
            carts = Cart.objects.filter(site=site).order_by("-last_activity_at", "-pk")[
                :RECENT_CARTS
            ]
            agents = AgentProfile.objects.filter(site=site).order_by("display_name")
        cart_field = cast(forms.ChoiceField, self.fields["cart"])
        agent_field = cast(forms.ChoiceField, self.fields["agent"])
        cart_field.choices = [
            ("", "— enter a cart below —"),
            *(
                (
                    str(c.pk),
                    f"{c.external_id} · {c.subtotal.normalize():f} {c.currency} · {c.stage}"
                    f" · {c.get_status_display()}",
                )
                for c in carts
            ),
        ]
        agent_field.choices = [
            (NO_AGENT, "No particular agent (no personal cap spent)"),
            (SUPERVISOR, "A supervisor (no approval needed)"),
            *((str(a.pk), a.display_name) for a in agents),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        site = cleaned.get("site")
        if site is None:
            return cleaned
        if cleaned.get("cart"):
            cleaned["cart_obj"] = Cart.objects.filter(pk=cleaned["cart"], site=site).first()
            if cleaned["cart_obj"] is None:
                self.add_error("cart", "Pick a cart of this site.")
        else:
            currency = (cleaned.get("currency") or site.currency).upper()
            cleaned["currency"] = currency
            if not is_known_currency(currency):
                self.add_error("currency", "Use an ISO 4217 currency code such as EUR.")
            elif cleaned.get("value") is None:
                self.add_error("value", "Enter the cart value, or pick a recent cart.")
            else:
                for name in ("value", "delivery_charge"):
                    if cleaned.get(name) is None:
                        continue
                    try:
                        cleaned[name] = parse_amount(cleaned[name], currency)
                    except MoneyError as exc:
                        self.add_error(name, str(exc))
        agent = cleaned.get("agent")
        cleaned["agent_obj"] = None
        if agent not in (NO_AGENT, SUPERVISOR, None):
            cleaned["agent_obj"] = AgentProfile.objects.filter(pk=agent, site=site).first()
            if cleaned["agent_obj"] is None:
                self.add_error("agent", "Pick an agent of this site.")
        return cleaned


@dataclass(frozen=True)
class Row:
    label: str
    allowed: bool
    bound: str
    policy: str
    approval: str
    reason: str


def _agent(data: dict[str, Any]) -> AgentLike:
    agent: AgentProfile | None = data["agent_obj"]
    return agent or StandInAgent(is_supervisor=data["agent"] == SUPERVISOR)


def _entered_cart(data: dict[str, Any]) -> CartFacts:
    lines = tuple(CartLine(sku=sku, quantity=1, unit_price=Decimal(0)) for sku in data["skus"])
    lines += tuple(
        CartLine(sku="", quantity=1, unit_price=Decimal(0), category=category)
        for category in data["categories"]
    )
    return CartFacts(
        value=data["value"],
        currency=data["currency"],
        stage=str(data.get("stage") or "cart"),
        delivery_charge=data.get("delivery_charge"),
        lines=lines,
        country=(data.get("country") or "").upper(),
    )


def simulated_remedies(data: dict[str, Any], *, now: datetime) -> RemediesList:
    """The remedies list for the form's situation: for a picked cart the very service
    the console's remedies panel calls (empty stall reason: the one its chat has)."""
    stall_reason = data.get("stall_reason") or None
    cart: Cart | None = data.get("cart_obj")
    if cart is not None:
        return remedies_list(cart=cart, agent=_agent(data), stall_reason=stall_reason, now=now)
    return entered_cart_remedies_list(
        site=data["site"],
        cart=_entered_cart(data),
        segment=Segment(data.get("segment") or Segment.NEW.value),
        agent=_agent(data),
        stall_reason=stall_reason or "",
        now=now,
    )


def _bound(decision: Allowed) -> str:
    if decision.bound is not None:
        bound = f"up to {decision.bound}"
    elif decision.hold_hours:
        bound = f"{decision.hold_hours} hours"
    else:
        bound = ""
    if decision.gift_sku:
        bound = f"{decision.gift_sku} ({bound.removeprefix('up to ')})"
    return bound


def row(option: RemedyOption) -> Row:
    """One remedy as the simulator shows it."""
    decision = option.decision
    if not isinstance(decision, Allowed):
        return Row(option.label, False, "", "", "", decision.reason.message())
    approval = (
        f"needs approval above {decision.approval_above}"
        if decision.approval_above is not None
        else ""
    )
    policy = f"“{decision.policy_name}” v{option.policy_version_number}"
    return Row(option.label, True, _bound(decision), policy, approval, "")


def facts(remedies: RemediesList, *, now: datetime) -> dict[str, Any]:
    """The situation the remedies were decided on, as the simulator shows it."""
    ctx = remedies.context
    cart = ctx.cart
    return {
        "cart": f"{Decimal(cart.value).normalize():f} {cart.currency}",
        "delivery": (
            f"{Decimal(cart.delivery_charge).normalize():f} {cart.currency}"
            if cart.delivery_charge is not None
            else "none quoted"
        ),
        "stage": cart.stage,
        "stall_reason": ctx.stall_reason or "none",
        "segment": ctx.shopper.segment.value,
        "country": cart.country or "unknown",
        "flagged": ctx.shopper.flagged_for_farming,
        "policies": remedies.policies,
        "now": now,
    }


def simulator_view(model_admin: ModelAdmin) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("policies.view_policy"):
            raise PermissionDenied
        data = request.GET if "site" in request.GET else None
        site = None
        site_id = (data.get("site") if data is not None else None) or request.GET.get("for_site")
        if site_id and str(site_id).isdigit():
            site = Site.objects.filter(pk=site_id).first()
        if site is None and Site.objects.count() == 1:
            site = Site.objects.first()
        form = SimulatorForm(data, site=site, initial={"site": site})
        result: list[Row] | None = None
        context_facts: dict[str, Any] = {}
        if data is not None and form.is_valid():
            now = timezone.now()
            remedies = simulated_remedies(form.cleaned_data, now=now)
            result = [row(option) for option in remedies.options]
            context_facts = facts(remedies, now=now)
        opts = model_admin.model._meta
        return TemplateResponse(
            request,
            "policies/simulator.html",
            {
                **model_admin.admin_site.each_context(request),
                "opts": opts,
                "title": "Policy simulator",
                "form": form,
                "rows": result,
                "facts": context_facts,
            },
        )

    return view
