"""The one HMAC signature scheme, shared by the signed API and the webhooks (ADR 0015).

``v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``: the shop backend signs its
requests with it (cartassist/api/auth.py checks them; docs/API.md, "Signing requests"),
and CartAssist signs each webhook with it (cartassist/webhooks/services.py;
docs/WEBHOOKS.md).
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-CartAssist-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def customer_identity_hmac(secret: str, customer_id: str) -> str:
    """The identity HMAC a shop computes server-side: hex HMAC-SHA256(secret, customer_id)."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()
