"""Names for the inputs of admin tabular inlines. Django's TabularInline shows each
field's label once, as a column heading, and leaves the inputs in the rows without a
name (axe-core: "Form elements must have labels", critical). This formset names each
input after its column and row."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.models import BaseInlineFormSet


class LabelledInlineFormSet(BaseInlineFormSet):
    def add_fields(self, form: forms.ModelForm[Any], index: int | None) -> None:
        super().add_fields(form, index)
        row = f"row {index + 1}" if index is not None else "new row"
        for name, field in form.fields.items():
            label = "Delete" if name == "DELETE" else str(field.label or name)
            attrs: dict[str, Any] = field.widget.attrs
            attrs.setdefault("aria-label", f"{label}, {row}")
