"""Visitor tokens: signed by CartAssist, naming one site and one visitor, expiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from django.core import signing

from agents.tokens import SALT, VisitorIdentity, visitor_token_issue, visitor_token_verify

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_issued_token_verifies_to_its_site_and_visitor(settings):
    # given
    settings.CARTASSIST_VISITOR_TOKEN_TTL = timedelta(hours=24)

    # when
    with time_machine.travel(NOW, tick=False):
        token, expires_at = visitor_token_issue(site_id=4, visitor_id="v_5f2c", now=NOW)
        identity = visitor_token_verify(token)

    # then
    assert identity == VisitorIdentity(site_id=4, visitor_id="v_5f2c")
    assert expires_at == NOW + timedelta(hours=24)


def test_token_is_valid_until_its_ttl_and_expired_after(settings):
    # given
    settings.CARTASSIST_VISITOR_TOKEN_TTL = timedelta(hours=24)
    with time_machine.travel(NOW, tick=False):
        token, _ = visitor_token_issue(site_id=4, visitor_id="v1", now=NOW)

    # then
    with time_machine.travel(NOW + timedelta(hours=24), tick=False):
        assert visitor_token_verify(token) == VisitorIdentity(site_id=4, visitor_id="v1")
    with time_machine.travel(NOW + timedelta(hours=24, seconds=1), tick=False):
        assert visitor_token_verify(token) is None


def test_tampered_token_is_refused():
    # given: another visitor id spliced into a genuine token
    token, _ = visitor_token_issue(site_id=4, visitor_id="v1", now=NOW)
    other, _ = visitor_token_issue(site_id=4, visitor_id="v2", now=NOW)
    forged = other.split(":")[0] + ":" + ":".join(token.split(":")[1:])

    # then
    assert visitor_token_verify(forged) is None


def test_token_signed_with_another_key_is_refused():
    forged = signing.dumps({"s": 4, "v": "v1"}, key="not-our-secret", salt=SALT)
    assert visitor_token_verify(forged) is None


def test_token_signed_for_another_purpose_is_refused():
    # given: our own signature, but under another salt (another kind of signed value)
    other_purpose = signing.dumps({"s": 4, "v": "v1"}, salt="cartassist.something-else")

    # then
    assert visitor_token_verify(other_purpose) is None


def test_signed_payload_of_the_wrong_shape_is_refused():
    for payload in ({"s": "4", "v": "v1"}, {"s": 4, "v": 1}, {"s": 4}, ["4", "v1"], "v1"):
        assert visitor_token_verify(signing.dumps(payload, salt=SALT)) is None, payload


def test_empty_malformed_and_oversized_tokens_are_refused():
    genuine, _ = visitor_token_issue(site_id=4, visitor_id="v1", now=NOW)
    for token in ("", "garbage", "a:b:c", genuine + "x" * 600):
        assert visitor_token_verify(token) is None, token
