"""The helpdesk's capacity in the site editor (docs/OPERATIONS.md, "Helpdesk capacity"):
a weekday × hour grid of labelled number inputs, the pacing switch, and the queue the
helpdesk last reported (read-only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict

from cartassist.carts.models import HelpdeskCapacity
from cartassist.carts.models.helpdesk import (
    MAX_CONTACTS_PER_HOUR,
    WEEKDAYS,
    grid_problem,
    office_hours_grid,
)

HOURS = range(24)


def _cell(name: str, day: int, hour: int) -> str:
    return f"{name}_{day}_{hour}"


class CapacityGridWidget(forms.Widget):
    """Seven rows (Monday first) of 24 number inputs, in a table whose row and column
    headings name each input too: an input's accessible name is "Monday 09:00–10:00"."""

    template_name = "cartassist/admin/capacity_grid.html"

    class Media:
        css = {"all": ["siteadmin/capacity-grid.css"]}

    def format_value(self, value: Any) -> Any:
        return value  # the grid itself (a list of rows), not its str()

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        rows = value if isinstance(value, list) and len(value) == len(WEEKDAYS) else None
        context["hours"] = [f"{h:02d}" for h in HOURS]
        context["rows"] = [
            {
                "day": day,
                "cells": [
                    {
                        "name": _cell(name, index, hour),
                        "id": _cell(context["widget"]["attrs"].get("id", name), index, hour),
                        "value": _value_at(rows, index, hour),
                        "label": f"{day} {hour:02d}:00–{(hour + 1) % 24:02d}:00",
                    }
                    for hour in HOURS
                ],
            }
            for index, day in enumerate(WEEKDAYS)
        ]
        context["max"] = MAX_CONTACTS_PER_HOUR
        return context

    def value_from_datadict(
        self, data: Any, files: MultiValueDict[str, Any], name: str
    ) -> list[list[str]] | None:
        if not any(_cell(name, 0, hour) in data for hour in HOURS):
            return None
        return [[data.get(_cell(name, d, h), "") for h in HOURS] for d in range(len(WEEKDAYS))]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return _cell(name, 0, 0) not in data


def _value_at(rows: Any, day: int, hour: int) -> object:
    try:
        return rows[day][hour]
    except (TypeError, IndexError, KeyError):
        return ""


class CapacityGridField(forms.Field):
    """The grid as a list of 7 lists of 24 whole numbers; every cell that is not one is
    named in the error. A post without the grid's inputs leaves the grid as it is."""

    widget = CapacityGridWidget

    def has_changed(self, initial: Any, data: Any) -> bool:
        return data is not None and super().has_changed(initial, data)

    def to_python(self, value: Any) -> list[list[int]] | None:
        if value in self.empty_values:
            return None
        if not isinstance(value, list):
            raise ValidationError("Enter the grid of contacts per hour.")
        problems = []
        grid: list[list[int]] = []
        for day, row in zip(WEEKDAYS, value, strict=False):
            cells = []
            for hour, cell in enumerate(row):
                text = str(cell).strip()
                if not text.isdigit() or int(text) > MAX_CONTACTS_PER_HOUR:
                    problems.append(f"{day} {hour:02d}:00")
                    cells.append(0)
                else:
                    cells.append(int(text))
            grid.append(cells)
        if problems:
            raise ValidationError(
                "Enter a whole number from 0 to %(max)s at: %(cells)s.",
                params={"max": MAX_CONTACTS_PER_HOUR, "cells": ", ".join(problems)},
            )
        problem = grid_problem(grid)
        if problem:
            raise ValidationError(problem)
        return grid

    def prepare_value(self, value: Any) -> Any:
        return value


class HelpdeskCapacityForm(forms.ModelForm):
    hourly = CapacityGridField(
        required=False,
        initial=office_hours_grid,  # a new row's: the model's default
        label="Contacts per hour",
        help_text="Follow-up contacts the phone and email team absorbs, by weekday and hour "
        "in the site's time zone; 0 = closed.",
    )

    class Meta:
        model = HelpdeskCapacity
        fields = ["pacing_enabled", "hourly"]

    def save(self, commit: bool = True) -> HelpdeskCapacity:
        """Write the edited fields only: the live queue the helpdesk reports meanwhile
        (``helpdesk_queue_report``) is not overwritten with the copy the page loaded."""
        if not commit or self.instance._state.adding:
            return super().save(commit=commit)
        instance = super().save(commit=False)
        instance.save(update_fields=["pacing_enabled", "hourly", "updated_at"])
        return instance


class HelpdeskCapacityInline(admin.StackedInline):
    model = HelpdeskCapacity
    form = HelpdeskCapacityForm
    max_num = 1
    extra = 0
    verbose_name = "helpdesk capacity (pacing)"
    verbose_name_plural = "helpdesk capacity (pacing)"
    fields = [
        "pacing_enabled",
        "hourly",
        "open_contacts",
        "capacity_override",
        "override_hour_start",
        "reported_at",
    ]
    readonly_fields = ["open_contacts", "capacity_override", "override_hour_start", "reported_at"]

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 1 if obj is None or not HelpdeskCapacity.objects.filter(site=obj).exists() else 0
