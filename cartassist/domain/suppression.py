"""Reasons not to reach out to a stalled shopper, checked in a fixed order."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


class SuppressionReason(enum.Enum):
    OPTED_OUT = "opted_out"
    FREQUENCY_CAP = "frequency_cap"
    QUIET_HOURS = "quiet_hours"
    NO_AGENT_AVAILABLE = "no_agent_available"
    # Decided after the holdout, by pacing (cartassist/domain/pacing.py), not here.
    HELPDESK_BUSY = "helpdesk_busy"


@dataclass(frozen=True, slots=True)
class SuppressionContext:
    now: datetime
    opted_out: bool
    last_invited_at: datetime | None
    frequency_cap: timedelta
    timezone: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    agent_available: bool


def in_quiet_hours(now: datetime, *, timezone: str, start: time | None, end: time | None) -> bool:
    """Whether ``now`` falls in [start, end) local time; the window may wrap midnight."""
    if start is None or end is None or start == end:
        return False
    local = now.astimezone(ZoneInfo(timezone)).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def first_suppression_reason(ctx: SuppressionContext) -> SuppressionReason | None:
    """The first reason that forbids outreach, or None when the shopper may be invited.

    Order: 1. opted out, 2. frequency cap, 3. quiet hours, 4. no agent available. The
    shopper's own wishes come first; agent availability last, as it changes fastest.
    """
    if ctx.opted_out:
        return SuppressionReason.OPTED_OUT
    if ctx.last_invited_at is not None and ctx.now - ctx.last_invited_at < ctx.frequency_cap:
        return SuppressionReason.FREQUENCY_CAP
    if in_quiet_hours(
        ctx.now, timezone=ctx.timezone, start=ctx.quiet_hours_start, end=ctx.quiet_hours_end
    ):
        return SuppressionReason.QUIET_HOURS
    if not ctx.agent_available:
        return SuppressionReason.NO_AGENT_AVAILABLE
    return None
