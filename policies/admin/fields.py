"""Form fields shared by the policy editor and the simulator."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from policies.engine import Segment
from policies.engine.money import is_known_currency, minor_unit, quantize

SEGMENT_CHOICES = [
    (Segment.NEW.value, "New (no completed order yet)"),
    (Segment.RETURNING.value, "Returning (has completed an order)"),
    (Segment.VIP.value, "VIP (verified attribute from the shop)"),
]


class CommaSeparatedField(forms.Field):
    """A list of codes typed as "DE, FR, AT" (stored as a JSON list)."""

    def __init__(self, *, upper: bool = False, **kwargs: Any) -> None:
        self.upper = upper
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = "" if value in self.empty_values else str(value)
        items = [item.strip() for item in text.split(",")]
        seen: dict[str, None] = {}
        for item in items:
            if item:
                seen[item.upper() if self.upper else item] = None
        return list(seen)


class MoneyInput(forms.NumberInput):
    """An amount in the site's currency, shown with the currency's minor units (9.90 EUR,
    990 JPY) rather than the storage's three decimals, and stepping by the minor unit.
    The engine's validator refuses more decimals than the currency has."""

    template_name = "policies/widgets/money.html"

    def __init__(self, currency: str | None = None, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"inputmode": "decimal", **(attrs or {})})
        self.currency = currency if currency and is_known_currency(currency) else None
        self.attrs["step"] = str(minor_unit(self.currency)) if self.currency else "any"

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, Decimal) and self.currency is not None:
            return str(quantize(value, self.currency))
        if isinstance(value, Decimal):
            return f"{value.normalize():f}"
        return super().format_value(value)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["currency"] = self.currency
        return context


def label_split_datetime(field: forms.Field) -> None:
    """Name both inputs of the admin's split date and time widget: the field's label
    points at the date input only, which left the time input without a name (axe:
    "Form elements must have labels", critical)."""
    widget = field.widget
    if not isinstance(widget, forms.MultiWidget) or len(widget.widgets) != 2:
        return
    label = str(field.label or "")
    date, time = widget.widgets
    date.attrs["aria-label"] = f"{label}: date"
    time.attrs["aria-label"] = f"{label}: time"
