"""Email addresses and phone numbers for the outreach lookup (docs/API.md, "Outreach
lookup"). Pure Python.

CartAssist never stores a shopper's email or phone in clear: a signed server event (or a
follow-up report) may carry them, and only a keyed hash of the normalised value is kept
(``contact_digest``), so that the helpdesk and the phone menu can find the shopper again
by the same value and nobody can read the values back.

Normalisation, so that the same person hashes the same way whatever the form sent:

- email: trimmed, lower-cased (the whole address: shops treat addresses case-blind);
  one ``@``, a non-empty local part, a domain with a dot, no spaces, at most 254 chars.
- phone: E.164-ish: a leading ``+`` (or ``00``) and the country code are required, then
  8 to 15 digits in all; spaces, dots, dashes, slashes and parentheses are dropped.
  ``+49 (30) 1234-567`` → ``+49301234567``.
"""

from __future__ import annotations

import hashlib
import hmac
import re

EMAIL = "email"
PHONE = "phone"

MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
_PHONE = re.compile(r"^\+[1-9][0-9]{7,14}$")


class ContactError(ValueError):
    """The value is not a usable email address or phone number (message for the API)."""


def normalise_email(value: str) -> str:
    """``value`` trimmed and lower-cased; raises ``ContactError`` when it is no address."""
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email) or ".." in email:
        raise ContactError("Enter an email address such as ada@example.com.")
    return email


def normalise_phone(value: str) -> str:
    """``value`` as ``+`` and digits; raises ``ContactError`` unless it is E.164-ish."""
    phone = _PHONE_SEPARATORS.sub("", value.strip())
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not _PHONE.match(phone):
        raise ContactError(
            "Enter a phone number with its country code, such as +49 30 1234567 (8–15 digits)."
        )
    return phone


def normalise_contact(kind: str, value: str) -> str:
    """``normalise_email`` or ``normalise_phone`` by ``kind``."""
    if kind == EMAIL:
        return normalise_email(value)
    if kind == PHONE:
        return normalise_phone(value)
    raise ValueError(f"unknown contact kind {kind!r}")


def contact_digest(key: bytes, kind: str, normalised: str) -> str:
    """The stored form of a normalised email or phone: hex HMAC-SHA256 keyed with
    ``key`` (the site's contact key), over ``"<kind>:<value>"`` so that the two kinds
    never collide."""
    return hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


MASK = "•••"


def mask_email(normalised: str) -> str:
    """What an agent may see of an address: its first character and its domain,
    ``mara@example.com`` → ``m•••@example.com`` (ADR 0016: the address itself is kept
    only as a keyed hash). Empty for anything that is not an address."""
    local, at, domain = normalised.partition("@")
    if not at or not local or not domain:
        return ""
    return f"{local[0]}{MASK}@{domain}"
