"""Signed tokens: visitor tokens (expiring, naming one site and one visitor) and the
links of an email to a shopper (resume: expiring, naming the email; unsubscribe: naming
the site and visitor, never expiring)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing

SALT = "cartassist.visitor-token.v1"
RESUME_SALT = "cartassist.email-resume.v1"
UNSUBSCRIBE_SALT = "cartassist.email-unsubscribe.v1"
TOKEN_MAX_LENGTH = 512


@dataclass(frozen=True)
class VisitorIdentity:
    site_id: int
    visitor_id: str


def visitor_token_issue(*, site_id: int, visitor_id: str, now: datetime) -> tuple[str, datetime]:
    token = signing.dumps({"s": site_id, "v": visitor_id}, salt=SALT, compress=False)
    return token, now + settings.CARTASSIST_VISITOR_TOKEN_TTL


def _signed_payload(token: str, *, salt: str, max_age: timedelta | None) -> dict[str, Any]:
    """The object a token signs, or {} when it is forged, malformed or expired."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return {}
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def _identity(data: dict[str, Any]) -> VisitorIdentity | None:
    if not isinstance(data.get("s"), int) or not isinstance(data.get("v"), str):
        return None
    return VisitorIdentity(site_id=data["s"], visitor_id=data["v"])


def visitor_token_verify(token: str) -> VisitorIdentity | None:
    """The identity in ``token``, or None when it is forged, malformed or expired."""
    return _identity(
        _signed_payload(token, salt=SALT, max_age=settings.CARTASSIST_VISITOR_TOKEN_TTL)
    )


def email_resume_token(*, email_id: int) -> str:
    """The resume link's token: names the email, expires after
    ``CARTASSIST_EMAIL_RESUME_TTL`` (the offer keeps its own expiry)."""
    return signing.dumps({"e": email_id}, salt=RESUME_SALT, compress=False)


def email_resume_email_id(token: str) -> int | None:
    """The email a resume token names, or None when forged, malformed or expired."""
    data = _signed_payload(token, salt=RESUME_SALT, max_age=settings.CARTASSIST_EMAIL_RESUME_TTL)
    email_id = data.get("e")
    return email_id if isinstance(email_id, int) else None


def email_unsubscribe_token(*, site_id: int, visitor_id: str) -> str:
    """The unsubscribe link's token (no expiry: an opt-out must work from any old email)."""
    return signing.dumps({"s": site_id, "v": visitor_id}, salt=UNSUBSCRIBE_SALT, compress=False)


def email_unsubscribe_verify(token: str) -> VisitorIdentity | None:
    """The shopper an unsubscribe token names, or None when forged or malformed."""
    return _identity(_signed_payload(token, salt=UNSUBSCRIBE_SALT, max_age=None))
