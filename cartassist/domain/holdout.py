"""The control group: a deterministic share of stalled carts that is never invited."""

from __future__ import annotations

import hashlib
from decimal import Decimal


def is_held_out(cart_key: str, share: Decimal, salt: str) -> bool:
    """Whether ``cart_key`` belongs to the holdout for ``share`` (0–1).

    Callers pass the shop's cart id as ``cart_key`` and the site's public key as ``salt``:
    both are the shop's own, so the same cart is in the same arm in any database (the
    simulator relies on it), and the salt keeps sites independent of each other.

    Deterministic: the same cart, share and salt always give the same answer, across
    processes and restarts (SHA-256, not ``hash()``). Monotonic in ``share``: a cart held
    out at 10 % is also held out at 20 %.
    """
    if share <= 0:
        return False
    if share >= 1:
        return True
    digest = hashlib.sha256(f"{salt}:{cart_key}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big")  # uniform in [0, 2**64)
    return Decimal(bucket) < share * Decimal(2**64)
