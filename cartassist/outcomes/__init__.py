"""Outcomes: refresh and finalise each intervention's outcome, follow-ups, analytics and
the outcome read selectors (docs/ARCHITECTURE.md)."""
