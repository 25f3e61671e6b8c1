"""Browser origins: one rule for the widget HTTP API, its CORS answers and the widget
socket (docs/WIDGET.md, section 1).

A site's allowed origins are stored normalised (:func:`origin_normalise`); the ``Origin``
header a browser sends is compared with them exactly (:func:`origin_allowed`). Browsers
send the serialised origin — lower-case scheme and host, no default port, no path — so
``https://shop.example/`` or ``HTTPS://shop.example`` is not what a browser sends, and is
refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_normalise(value: str) -> str:
    """``" HTTPS://Shop.Example:443/ "`` → ``"https://shop.example"``.

    The form a browser sends: ``scheme://host[:port]``, lower-cased, the scheme's default
    port dropped, a bare trailing ``/`` dropped. Raises ``ValueError`` (with a sentence for
    the admin form) for anything else: another scheme, a path, query or fragment, user
    info, a missing host or an invalid port.
    """
    text = value.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.netloc:
        raise ValueError(
            f"{value!r} is not an origin: use scheme://host[:port], e.g. https://shop.example"
        )
    if parts.path not in {"", "/"} or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError(
            f"{value!r} has a path, query or fragment: an origin is scheme://host[:port] only, "
            "e.g. https://shop.example"
        )
    if "@" in parts.netloc:
        raise ValueError(f"{value!r} is not an origin: it must not contain user info")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{value!r} has an invalid port") from error
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"{value!r} is not an origin: the host is missing")
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origins_normalised(origins: list[object]) -> list[object]:
    """Each origin normalised where it can be, duplicates dropped, the order kept; an entry
    that is not an origin is kept as it is (it matches no ``Origin`` header)."""
    result: list[object] = []
    for entry in origins:
        try:
            normalised: object = origin_normalise(str(entry))
        except ValueError:
            normalised = entry  # the admin form shows it as a field error on next edit
        if normalised not in result:
            result.append(normalised)
    return result


def origin_is_serialised(origin: str | None) -> bool:
    """Whether ``origin`` is exactly an origin as browsers send it (not ``null``)."""
    if not origin:
        return False
    try:
        return origin_normalise(origin) == origin
    except ValueError:
        return False


def origin_allowed(origin: str | None, allowed: Collection[str]) -> bool:
    """Whether the browser's ``Origin`` header is one of ``allowed`` (normalised), exactly."""
    return bool(origin) and origin != "null" and origin in allowed
