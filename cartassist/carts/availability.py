"""Checks for CARTASSIST_AGENT_AVAILABILITY: "is an agent able to take a chat now?"

The live-chat issue replaces the default with one based on agent presence and capacity.
A custom check is any importable ``callable(site, now) -> bool`` (``now``: the sweep's
moment, passed as a keyword); a ``callable(site)`` works too.
"""

from __future__ import annotations

from cartassist.carts.models import Site


def site_setting(site: Site) -> bool:
    """The site's "agents available" switch, set by a merchandiser in admin."""
    return site.agents_available


def always(site: Site) -> bool:
    return True
