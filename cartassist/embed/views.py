"""The helpdesk sidebar: the outreach lookup as a small HTML page to embed in an iframe
(docs/integrations/helpdesk.md). Thin: check the signed URL, validate the one lookup
key, call the lookup service, render.

Framing: this page only is exempt from ``X-Frame-Options: DENY``; instead its
``Content-Security-Policy: frame-ancestors`` names the site's allowed origins (none: no
framing at all), so only the shop's own pages, and the helpdesk origin added there, may
frame it. ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store`` keep the
signed URL, and the lookup, out of other sites' logs and caches.
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET
from rest_framework.exceptions import ValidationError

from cartassist.api.outreach import lookup_key
from cartassist.carts.models import Site
from cartassist.outcomes.services.outreach_lookup import outreach_lookup

from .signing import EmbedRefused, check_expiry, embed_signature, signed_part


def _headers(response: HttpResponse, site: Site | None) -> HttpResponse:
    ancestors = " ".join((site.allowed_origins or []) if site else []) or "'none'"
    response["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors {ancestors}"
    )
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


def _refused(request: HttpRequest, message: str, status: int, site: Site | None) -> HttpResponse:
    response = render(
        request, "cartassist/embed/outreach.html", {"refused": message}, status=status
    )
    return _headers(response, site)


@xframe_options_exempt
@require_GET
def outreach_embed(request: HttpRequest) -> HttpResponse:
    """1. The site by ``key``; 2. the signature over the URL before ``&sig=``, with any
    of the site's valid secrets; 3. the expiry; 4. exactly one lookup key; 5. the page."""
    now = timezone.now()
    query = request.GET
    site = (
        Site.objects.filter(public_key=query.get("key", "")).first() if query.get("key") else None
    )
    if site is None:
        return _refused(request, "This link is not for a known shop.", 403, None)
    try:
        message, sig = signed_part(request.path, request.META.get("QUERY_STRING", ""))
        if not sig.isascii() or not any(
            hmac.compare_digest(embed_signature(secret, message), sig)
            for secret in site.valid_secrets(now)
        ):
            raise EmbedRefused("This link's signature is not valid.")
        check_expiry(query.get("expires", ""), now=now)
    except EmbedRefused as refused:
        return _refused(request, str(refused), 403, site)
    fields = {name: value for name, value in query.items() if name not in {"key", "expires", "sig"}}
    if any(len(query.getlist(name)) > 1 for name in query):
        return _refused(request, "Each parameter may be sent once.", 400, site)
    try:
        key, value = lookup_key(fields)
    except ValidationError as invalid:
        detail = invalid.detail if isinstance(invalid.detail, dict) else {}
        problems = "; ".join(
            f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in detail.items()
        )
        return _refused(request, f"Bad lookup: {problems}", 400, site)
    result = outreach_lookup(site=site, key=key, value=value, now=now)
    response = render(
        request,
        "cartassist/embed/outreach.html",
        {"site": site, "result": result, "looked_up_by": key.replace("_", " ")},
    )
    return _headers(response, site)
