"""Visitors: what CartAssist remembers about a shopper's browser across carts."""

from __future__ import annotations

from django.db.models import F

from cartassist.carts.models import Site, Visitor


def visitor_language_record(*, site: Site, visitor_id: str, requested: str | None) -> str:
    """Resolve the shopper's language and remember it on the visitor; return it.

    1. A requested tag (``de-AT``) resolves to one of the site's languages
       (``Site.language_for``: ``de``, else the site's first).
    2. Without one, the language stored earlier stays (another page of the shop may
       have said it), resolved again in case the site's languages changed since.
    3. The visitor row is created when new and written only when the language changes:
       the widget asks for a session on every page load.
    """
    visitor, _ = Visitor.objects.get_or_create(site=site, external_id=visitor_id)
    language = site.language_for(requested or visitor.language or None)
    if visitor.language != language:
        Visitor.objects.filter(pk=visitor.pk).update(language=language)
    return language


def visitor_language(*, site: Site, visitor_id: str) -> str:
    """The language to speak to this visitor: the one stored by the widget session,
    resolved to one of the site's languages (the site's first when none is stored)."""
    stored = (
        Visitor.objects.filter(site=site, external_id=visitor_id)
        .values_list("language", flat=True)
        .first()
    )
    return site.language_for(stored or None)


def visitor_sockets_count(*, site_id: int, visitor_id: str, change: int) -> None:
    """A widget socket of this visitor opened (+1) or closed (-1): one conditional
    UPDATE, never below 0. The row exists once the widget asked for a session; a socket
    of a visitor without one (not possible through the widget) is not counted."""
    visitors = Visitor.objects.filter(site_id=site_id, external_id=visitor_id)
    if change < 0:
        visitors = visitors.filter(open_sockets__gte=-change)
    visitors.update(open_sockets=F("open_sockets") + change)


def visitor_open_sockets(*, site_id: int, visitor_id: str) -> int:
    """How many widget sockets of the visitor are open now (0: none, or no such visitor)."""
    count = (
        Visitor.objects.filter(site_id=site_id, external_id=visitor_id)
        .values_list("open_sockets", flat=True)
        .first()
    )
    return count or 0
