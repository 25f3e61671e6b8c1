"""The policy editor: fieldsets with help texts, one validator (the engine's), a new
immutable version on every real change, and budget usage in the site's time zone."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, Prefetch, QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cartassist.carts.models import Stage, StallReason
from policies.admin.fields import (
    SEGMENT_CHOICES,
    CommaSeparatedField,
    MoneyInput,
    label_split_datetime,
)
from policies.admin.simulator import simulator_view
from policies.admin.versions import VersionHistory, version_history
from policies.engine import Money
from policies.engine.diff import SpecChange
from policies.models import (
    BudgetCounter,
    Policy,
    PolicyVersion,
)
from policies.selectors import budget_usage, policy_in_use
from policies.services.versions import policies_delete, policy_version_create
from policies.specs import check_policy, raw_spec

LIST_FIELDS = (
    "countries",
    "include_categories",
    "exclude_categories",
    "include_skus",
    "exclude_skus",
)
# Amounts in the site's currency (stored with three decimals; shown with the currency's).
MONEY_FIELDS = (
    "min_cart_value", "max_cart_value", "min_delivery_charge", "waive_delivery_cap",
    "reduce_delivery_max_amount", "discount_max_amount", "free_gift_value", "max_per_offer",
    "daily_budget", "monthly_budget", "per_agent_daily_cap", "approval_above",
)  # fmt: skip
SPLIT_DATETIME_FIELDS = ("valid_from", "valid_until")
# Where the engine's error for a remedy's sub-field shows in the form:
# (remedy kind, sub-field) → form field; "" is the remedy as a whole.
REMEDY_FIELDS = {
    ("waive_delivery", ""): "waive_delivery",
    ("waive_delivery", "max_amount"): "waive_delivery_cap",
    ("waive_delivery", "max_percent"): "waive_delivery_cap",
    ("reduce_delivery", ""): "reduce_delivery_max_percent",
    ("reduce_delivery", "max_percent"): "reduce_delivery_max_percent",
    ("reduce_delivery", "max_amount"): "reduce_delivery_max_amount",
    ("discount", ""): "discount_max_percent",
    ("discount", "max_percent"): "discount_max_percent",
    ("discount", "max_amount"): "discount_max_amount",
    ("free_gift", ""): "free_gift_sku",
    ("free_gift", "gift_sku"): "free_gift_sku",
    ("free_gift", "gift_value"): "free_gift_value",
    ("hold_stock", ""): "hold_stock_hours",
    ("hold_stock", "hold_hours"): "hold_stock_hours",
}


class PolicyForm(forms.ModelForm):
    stages = forms.MultipleChoiceField(
        choices=Stage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Where the shopper is in checkout. None ticked: any stage.",
    )
    stall_reasons = forms.MultipleChoiceField(
        choices=StallReason.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Why the cart stalled (from the stall sweep). None ticked: any reason.",
    )
    segments = forms.MultipleChoiceField(
        choices=SEGMENT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Who the shopper is, across all their carts and visitor ids. None ticked: "
        "anyone.",
    )
    countries = CommaSeparatedField(
        upper=True,
        help_text="Shipping countries as two-letter ISO codes, comma-separated (DE, AT, FR). "
        "Empty: any country.",
    )
    include_categories = CommaSeparatedField(
        help_text="The cart must hold an item of one of these categories (comma-separated). "
        "Empty: any.",
    )
    exclude_categories = CommaSeparatedField(
        help_text="Never for carts holding an item of these categories (comma-separated).",
    )
    include_skus = CommaSeparatedField(
        help_text="The cart must hold one of these SKUs (comma-separated). Empty: any.",
    )
    exclude_skus = CommaSeparatedField(
        help_text="Never for carts holding one of these SKUs (comma-separated).",
    )

    class Meta:
        model = Policy
        fields = [
            "site", "name", "active", "priority", "valid_from", "valid_until",
            "min_cart_value", "max_cart_value", "stages", "stall_reasons", "segments",
            "countries", "include_categories", "exclude_categories", "include_skus",
            "exclude_skus", "min_delivery_charge",
            "waive_delivery", "waive_delivery_cap", "reduce_delivery",
            "reduce_delivery_max_percent", "reduce_delivery_max_amount", "discount",
            "discount_max_percent", "discount_max_amount", "free_gift_sku", "free_gift_value",
            "hold_stock_hours",
            "max_per_offer", "daily_budget", "monthly_budget", "per_agent_daily_cap",
            "once_per_customer_days", "approval_above", "stacking",
        ]  # fmt: skip
        help_texts = {
            "name": "Agents and the audit log see this name, e.g. “Free delivery rescue”.",
            "active": "Untick to switch the policy off without deleting it (agents then see "
            "“switched off” as the reason).",
            "valid_from": "Empty: from now on.",
            "valid_until": "Empty: no end. From this moment the policy no longer applies.",
            "min_cart_value": "Cart value (subtotal, without delivery) at least this, in the "
            "site's currency. Empty: no minimum.",
            "max_cart_value": "Cart value at most this. Empty: no maximum.",
            "min_delivery_charge": "Only when the quoted delivery charge is at least this.",
            "waive_delivery": "Agents may take the whole delivery charge off.",
            "waive_delivery_cap": "Waive at most this amount (a higher charge is then reduced "
            "by the cap). Empty: the whole charge.",
            "reduce_delivery": "Agents may take part of the delivery charge off.",
            "reduce_delivery_max_percent": "Up to this percentage of the delivery charge "
            "(above 0, at most 100). Give a percentage, an amount, or both: the smaller wins.",
            "reduce_delivery_max_amount": "Up to this amount off the delivery charge.",
            "discount": "Agents may give a discount on the cart value.",
            "discount_max_percent": "Up to this percentage of the cart value (above 0, at most "
            "100). Give a percentage, an amount, or both: the smaller wins.",
            "discount_max_amount": "Up to this amount off the cart.",
            "free_gift_sku": "SKU of a free gift agents may add. Empty: no gift.",
            "free_gift_value": "What the gift costs you; counted against the budgets below.",
            "hold_stock_hours": "Agents may hold the cart's stock for this many hours "
            "(1–168). Empty: not allowed. Costs no budget.",
            "max_per_offer": "No single offer above this amount.",
            "daily_budget": "Total of all offers per day (reserved while open, kept when "
            "accepted, given back when declined, denied or expired), in the site's time zone.",
            "monthly_budget": "Total per calendar month, same counting.",
            "per_agent_daily_cap": "Total per agent per day.",
            "once_per_customer_days": "One grant under this policy per customer (all their "
            "carts and visitor ids) every N days. Empty: no limit.",
            "approval_above": "Offers above this amount wait for a supervisor's approval in "
            "the console. Empty: never. 0: always.",
            "stacking": "Exclusive: no other remedy for the same cart, before or after.",
            "priority": "When several policies allow the same remedy, the one with the lowest "
            "number decides its bound.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "site" in self.fields:
            self.fields["site"].help_text = "Amounts are in this site's currency."
        currency = self._currency()
        for name in MONEY_FIELDS:
            if name in self.fields:
                self.fields[name].widget = MoneyInput(currency)
        for name in SPLIT_DATETIME_FIELDS:
            if name in self.fields:
                label_split_datetime(self.fields[name])

    def _currency(self) -> str | None:
        """The currency amounts are shown in: the policy's site's; on the add page the
        site posted, or given in the link (``?site=``), or the only site there is."""
        if self.instance.site_id:
            return self.instance.site.currency
        queryset = getattr(self.fields.get("site"), "queryset", None)
        if queryset is None:
            return None
        chosen = self.data.get("site") if self.is_bound else self.initial.get("site")
        if chosen:
            pk = getattr(chosen, "pk", chosen)
            site = queryset.filter(pk=pk).first() if str(pk).isdigit() else None
            return site.currency if site else None
        sites = list(queryset[:2])
        return sites[0].currency if len(sites) == 1 else None

    def clean(self) -> dict[str, Any]:
        """Build the policy as edited and run the engine's validator on it; each error
        shows at the field it is about."""
        cleaned = super().clean() or {}
        site = cleaned.get("site") or (self.instance.site if self.instance.site_id else None)
        if site is None:
            return cleaned
        policy = construct_instance(self, copy.copy(self.instance))
        currency = site.currency
        remedies = raw_spec(policy, currency=currency)["remedies"]
        for error in check_policy(policy, currency=currency):
            field = self._form_field(error.field, remedies)
            if field is not None and field in self.errors:
                continue  # Django's own check on this field already said what is wrong
            if field == "__currency__":
                self.add_error("site", f"{error.message} (the site's currency is {currency})")
            else:
                self.add_error(field, error.message)
        return cleaned

    def _form_field(self, path: str, remedies: list[dict[str, Any]]) -> str | None:
        """The form field for an engine error path ("conditions.min_cart_value",
        "remedies.1.max_percent", "limits.daily_budget", ...); None: the whole form."""
        parts = path.split(".")
        if parts[0] == "currency":
            return "__currency__"
        if parts[0] in ("conditions", "limits") and len(parts) == 2:
            return parts[1] if parts[1] in self.fields else None
        if parts[0] == "remedies" and len(parts) >= 2 and parts[1].isdigit():
            index = int(parts[1])
            if index >= len(remedies):
                return None
            sub = parts[2] if len(parts) > 2 and parts[2] != "kind" else ""
            return REMEDY_FIELDS.get((remedies[index]["kind"], sub))
        return path if path in self.fields else None


VERSION_INLINE_FIELDS = (
    "number", "created_at", "created_by", "offers_made", "changes", "compared_with_current",
)  # fmt: skip


def _changes_list(changes: list[SpecChange], empty: str) -> str:
    if not changes:
        return format_html('<span class="version-no-changes">{}</span>', empty)
    items = format_html_join("", "<li>{}</li>", ((c.sentence(),) for c in changes))
    return format_html('<ul class="version-changes">{}</ul>', items)


class PolicyVersionInline(admin.TabularInline):
    """Every saved version, newest first, with what it changed from the one before and
    how it differs from the current one, in words (policies/engine/diff.py); immutable
    (offers and grants point at them)."""

    model = PolicyVersion
    fk_name = "policy"
    extra = 0
    can_delete = False
    fields = VERSION_INLINE_FIELDS
    readonly_fields = VERSION_INLINE_FIELDS
    ordering = ["-number"]
    verbose_name_plural = "versions (immutable: offers and grants name the one that allowed them)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One inline instance serves one request (get_inline_instances): load each
        # policy's versions once for all of its rows.
        self._histories: dict[int, VersionHistory] = {}

    def get_queryset(self, request: HttpRequest) -> QuerySet[PolicyVersion]:
        return (
            super()
            .get_queryset(request)
            .select_related("created_by", "policy__site")
            .annotate(offer_count=Count("offers"))
        )

    def _history(self, version: PolicyVersion) -> VersionHistory:
        if version.policy_id not in self._histories:
            self._histories[version.policy_id] = version_history(version.policy)
        return self._histories[version.policy_id]

    @admin.display(description="offers")
    def offers_made(self, version: PolicyVersion) -> int:
        return getattr(version, "offer_count", None) or version.offers.count()

    @admin.display(description="changes from the version before")
    def changes(self, version: PolicyVersion) -> str:
        history = self._history(version)
        previous = history.previous(version.number)
        if previous is None:
            return format_html('<span class="version-no-changes">{}</span>', "First version.")
        return _changes_list(history.diff(previous, version.number), "No rule changed.")

    @admin.display(description="differences from the current version")
    def compared_with_current(self, version: PolicyVersion) -> str:
        history = self._history(version)
        current = version.policy.current_version_id
        if current is None or current == version.pk:
            return format_html('<span class="version-no-changes">{}</span>', "Current version.")
        current_number = history.number_of(current)
        if current_number is None:
            return "—"
        return _changes_list(
            history.diff(version.number, current_number), "Same rules as the current version."
        )


def _usage(spent: Decimal, cap: Decimal | None, currency: str) -> str:
    if cap is None:
        return f"{Money(spent, currency)} (no cap)"
    return f"{Money(spent, currency)} of {Money(cap, currency)}"


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    form = PolicyForm

    class Media:
        css = {"all": ["siteadmin/admin.css"]}  # money inputs, version changes

    change_list_template = "policies/policy_change_list.html"
    list_display = [
        "name",
        "site",
        "active",
        "priority",
        "remedies_summary",
        "version_number",
        "spent_today",
        "spent_this_month",
        "valid_until",
    ]
    list_filter = ["site", "active", "stacking"]
    list_select_related = ["site", "current_version"]
    search_fields = ["name"]
    inlines = [PolicyVersionInline]
    readonly_fields = ["version_number", "spent_today", "spent_this_month", "updated_at"]
    fieldsets = [
        (
            "Scope & validity",
            {
                "fields": [
                    "site",
                    "name",
                    "active",
                    "priority",
                    ("valid_from", "valid_until"),
                    "version_number",
                    "updated_at",
                ],
                "description": "Every save with a change creates a new immutable version; "
                "offers and grants keep the version that allowed them. A policy that offers "
                "were made under cannot be deleted: untick Active instead. Try a policy on a "
                "cart with the simulator (link on the policy list).",
            },
        ),
        (
            "Conditions",
            {
                "fields": [
                    ("min_cart_value", "max_cart_value"),
                    "stages",
                    "stall_reasons",
                    "segments",
                    "countries",
                    ("include_categories", "exclude_categories"),
                    ("include_skus", "exclude_skus"),
                    "min_delivery_charge",
                ],
                "description": "All conditions must hold for the policy to apply. Empty means "
                "“any”. Amounts are in the site's currency, with its decimal places.",
            },
        ),
        (
            "Remedies",
            {
                "fields": [
                    ("waive_delivery", "waive_delivery_cap"),
                    (
                        "reduce_delivery",
                        "reduce_delivery_max_percent",
                        "reduce_delivery_max_amount",
                    ),
                    ("discount", "discount_max_percent", "discount_max_amount"),
                    ("free_gift_sku", "free_gift_value"),
                    "hold_stock_hours",
                ],
                "description": "What agents may offer when the conditions hold. Allow at "
                "least one. A reduction or discount needs a maximum percentage or amount.",
            },
        ),
        (
            "Limits & budgets",
            {
                "fields": [
                    "max_per_offer",
                    ("daily_budget", "spent_today"),
                    ("monthly_budget", "spent_this_month"),
                    "per_agent_daily_cap",
                    "once_per_customer_days",
                    "approval_above",
                ],
                "description": "An agent's bound is the smallest of the remedy's own bound, "
                "the maximum per offer and what is left of each budget. Budgets count open "
                "offers (reserved) and accepted ones; declined, denied and expired offers "
                "give their amount back.",
            },
        ),
        ("Stacking", {"fields": ["stacking"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Policy]:
        # Counters of this and last month cover "today" and "this month" in every
        # time zone; budget_usage() picks the right ones per site.
        earliest = (timezone.now() - timedelta(days=2)).date().replace(day=1)
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "budget_counters",
                    queryset=BudgetCounter.objects.filter(agent_key=0, period_start__gte=earliest),
                    to_attr="recent_counters",
                )
            )
        )

    @admin.display(description="remedies")
    def remedies_summary(self, policy: Policy) -> str:
        kinds = [r["kind"].replace("_", " ") for r in raw_spec(policy, currency="EUR")["remedies"]]
        return ", ".join(kinds) or "—"

    @admin.display(description="version")
    def version_number(self, policy: Policy) -> str:
        return f"v{policy.current_version.number}" if policy.current_version else "—"

    @admin.display(description="spent today")
    def spent_today(self, policy: Policy) -> str:
        if not policy.pk:
            return "—"
        spend = budget_usage(policy)
        return _usage(spend["today"], policy.daily_budget, policy.site.currency)

    @admin.display(description="spent this month")
    def spent_this_month(self, policy: Policy) -> str:
        if not policy.pk:
            return "—"
        spend = budget_usage(policy)
        return _usage(spend["month"], policy.monthly_budget, policy.site.currency)

    def save_model(self, request: HttpRequest, obj: Policy, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        policy_version_create(policy=obj, user=request.user, now=timezone.now())

    def has_delete_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        if obj is not None and policy_in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """An unused policy goes with its versions (delete_model removes them first), so
        they are not "protected" here."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not any(policy_in_use(obj) for obj in objs):
            protected = []
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Policy) -> None:
        policies_delete(policy_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Policy]) -> None:
        # A policy in use stays (the confirmation page already listed it as protected).
        policies_delete(policy_ids=queryset.values_list("pk", flat=True))

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "simulator/",
                self.admin_site.admin_view(simulator_view(self)),
                name="policies_policy_simulator",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra_context = {
            **(extra_context or {}),
            "simulator_url": reverse("admin:policies_policy_simulator"),
        }
        return super().changelist_view(request, extra_context)
