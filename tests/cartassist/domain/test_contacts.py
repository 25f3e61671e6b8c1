"""Email and phone normalisation and hashing for the outreach lookup (pure, no DB)."""

from __future__ import annotations

import pytest

from cartassist.domain.contacts import (
    ContactError,
    contact_digest,
    normalise_email,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("a+tag@shop.example.co.uk", "a+tag@shop.example.co.uk"),
    ],
)
def test_email_is_trimmed_and_lower_cased(sent: str, stored: str) -> None:
    assert normalise_email(sent) == stored


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a da@example.com",
        "a@b@c.de",
        "ada@example..com",
        "x" * 250 + "@ex.com",
    ],
)
def test_email_without_address_syntax_is_refused(sent: str) -> None:
    with pytest.raises(ContactError):
        normalise_email(sent)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("+49 (30) 1234-567", "+49301234567"),
        ("0049 30 1234567", "+49301234567"),
        ("+1.415.555.0100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_becomes_plus_and_digits(sent: str, stored: str) -> None:
    assert normalise_phone(sent) == stored


@pytest.mark.parametrize(
    "sent", ["030 1234567", "+0 123 45678", "+49 12", "+49 1234 5678 9012 3456", "+49 30 ABC"]
)
def test_phone_without_country_code_or_wrong_length_is_refused(sent: str) -> None:
    with pytest.raises(ContactError):
        normalise_phone(sent)


def test_digest_is_keyed_and_kind_separated() -> None:
    one = contact_digest(b"key-1", "email", "ada@example.com")
    assert len(one) == 64
    assert one == contact_digest(b"key-1", "email", "ada@example.com")
    assert one != contact_digest(b"key-2", "email", "ada@example.com")
    assert one != contact_digest(b"key-1", "phone", "ada@example.com")
    assert "ada" not in one
