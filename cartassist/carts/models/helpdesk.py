"""The helpdesk's capacity per site: how many follow-up contacts per hour the phone and
email team absorbs, by weekday and hour in the site's time zone (docs/OPERATIONS.md,
"Helpdesk capacity"; pacing: docs/adr/0024)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_CONTACTS_PER_HOUR = 100_000


def office_hours_grid() -> list[list[int]]:
    """The default grid: 10 contacts per hour, Monday to Friday, 09:00–18:00."""
    return [[10 if day < 5 and 9 <= hour < 18 else 0 for hour in range(24)] for day in range(7)]


def grid_problem(value: object) -> str:
    """Why ``value`` is not a 7 × 24 grid of whole numbers 0–100 000 ('' when it is)."""
    if not isinstance(value, list) or len(value) != len(WEEKDAYS):
        return "Enter 7 rows (Monday to Sunday) of 24 hours."
    for day, row in zip(WEEKDAYS, value, strict=True):
        if not isinstance(row, list) or len(row) != 24:
            return f"{day}: enter 24 hours."
        for hour, cell in enumerate(row):
            if isinstance(cell, bool) or not isinstance(cell, int):
                return f"{day} {hour:02d}:00: enter a whole number."
            if not 0 <= cell <= MAX_CONTACTS_PER_HOUR:
                return f"{day} {hour:02d}:00: enter 0 to {MAX_CONTACTS_PER_HOUR}."
    return ""


def validate_grid(value: object) -> None:
    problem = grid_problem(value)
    if problem:
        raise ValidationError(problem)


class HelpdeskCapacity(models.Model):
    site = models.OneToOneField(
        "cartassist.Site", on_delete=models.CASCADE, related_name="helpdesk_capacity"
    )
    pacing_enabled = models.BooleanField(
        default=False,
        help_text="Pace outreach so that the follow-up contacts it is expected to cause fit "
        "this capacity: invitations wait (or are suppressed as 'helpdesk busy') when they "
        "would not.",
    )
    hourly = models.JSONField(
        default=office_hours_grid,
        validators=[validate_grid],
        help_text="Contacts per hour the helpdesk absorbs, by weekday (Monday first) and "
        "hour, in the site's time zone; 0 = closed.",
    )
    # Live, reported by the helpdesk (POST /api/v1/server/helpdesk/queue).
    open_contacts = models.PositiveIntegerField(
        null=True, blank=True, help_text="Contacts waiting in the helpdesk's queue (reported)."
    )
    capacity_override = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Contacts the helpdesk absorbs in the reported hour, instead of the grid's.",
    )
    override_hour_start = models.DateTimeField(
        null=True, blank=True, help_text="The local clock hour the override applies to."
    )
    reported_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "helpdesk capacity"
        verbose_name_plural = "helpdesk capacities"

    def __str__(self) -> str:
        return f"Helpdesk capacity of site {self.site_id}"
