"""Kept so that CARTASSIST_AGENT_AVAILABILITY="cartassist.availability.<check>" still
works; the checks live in cartassist/carts/availability.py (ADR 0015)."""

from cartassist.carts.availability import always, site_setting

__all__ = ["always", "site_setting"]
