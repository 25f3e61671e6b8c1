"""Allowed origins: normalised when stored, compared exactly (docs/WIDGET.md). No database."""

from __future__ import annotations

import re

import pytest

from cartassist.domain.origins import (
    origin_allowed,
    origin_is_serialised,
    origin_normalise,
    origins_normalised,
)


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://shop.example", "https://shop.example"),
        ("https://shop.example/", "https://shop.example"),
        (" HTTPS://Shop.Example:443/ ", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("https://shop.example:8443", "https://shop.example:8443"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_an_origin_is_stored_as_a_browser_sends_it(value, origin):
    assert origin_normalise(value) == origin


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "https://shop.example/checkout",
            "'https://shop.example/checkout' has a path, query or fragment: an origin is "
            "scheme://host[:port] only, e.g. https://shop.example",
        ),
        (
            "https://shop.example/?a=1",
            "'https://shop.example/?a=1' has a path, query or fragment: an origin is "
            "scheme://host[:port] only, e.g. https://shop.example",
        ),
        (
            "shop.example",
            "'shop.example' is not an origin: use scheme://host[:port], e.g. https://shop.example",
        ),
        (
            "ftp://shop.example",
            "'ftp://shop.example' is not an origin: use scheme://host[:port], "
            "e.g. https://shop.example",
        ),
        (
            "https://user@shop.example",
            "'https://user@shop.example' is not an origin: it must not contain user info",
        ),
        ("https://shop.example:99999", "'https://shop.example:99999' has an invalid port"),
        ("https://:443", "'https://:443' is not an origin: the host is missing"),
    ],
)
def test_anything_else_is_refused_with_a_sentence(value, message):
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        origin_normalise(value)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example", True),
        ("https://shop.example/", False),
        ("HTTPS://SHOP.EXAMPLE", False),
        ("https://shop.example:443", False),
        ("http://shop.example", False),
        ("null", False),
        ("", False),
        (None, False),
    ],
)
def test_the_browsers_origin_is_compared_exactly(origin, allowed):
    assert origin_allowed(origin, ["https://shop.example"]) is allowed


@pytest.mark.parametrize(
    ("origin", "serialised"),
    [
        ("https://shop.example", True),
        ("http://localhost:8000", True),
        ("https://shop.example/", False),
        ("https://Shop.example", False),
        ("null", False),
        (None, False),
    ],
)
def test_only_an_origin_as_browsers_send_it_is_serialised(origin, serialised):
    assert origin_is_serialised(origin) is serialised


def test_stored_lists_are_normalised_deduplicated_and_keep_what_is_no_origin():
    assert origins_normalised(
        ["https://shop.example/", "HTTPS://shop.example", "https://shop.example/x", 7]
    ) == ["https://shop.example", "https://shop.example/x", 7]
