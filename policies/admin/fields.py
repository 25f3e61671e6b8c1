"""Form fields shared by the policy editor and the simulator."""

from __future__ import annotations

from typing import Any

from django import forms

from policies.engine import Segment

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
