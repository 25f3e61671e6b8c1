"""Visitor tokens: signed, expiring, naming one site and one visitor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing

SALT = "cartassist.visitor-token.v1"


@dataclass(frozen=True)
class VisitorIdentity:
    site_id: int
    visitor_id: str


def visitor_token_issue(*, site_id: int, visitor_id: str, now: datetime) -> tuple[str, datetime]:
    token = signing.dumps({"s": site_id, "v": visitor_id}, salt=SALT, compress=False)
    return token, now + settings.CARTASSIST_VISITOR_TOKEN_TTL


def visitor_token_verify(token: str) -> VisitorIdentity | None:
    """The identity in ``token``, or None when it is forged, malformed or expired."""
    if not token or len(token) > 512:
        return None
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.CARTASSIST_VISITOR_TOKEN_TTL)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        return None
    if not isinstance(data.get("v"), str):
        return None
    return VisitorIdentity(site_id=data["s"], visitor_id=data["v"])
