"""Schema-based fuzzing of the whole HTTP API (schemathesis), in-process through the WSGI
application: every operation of /api/schema/, with data the schema allows (positive) and
data it forbids (negative), must answer without a server error and with a status, headers
and body its schema documents.

Credentials come from one ``before_call`` hook that reads each operation's definition,
so an endpoint added later is covered without touching this file:

- an operation that declares the signing headers (``X-CartAssist-Signature``, i.e.
  ``cartassist.api.schema.SIGNATURE_HEADERS``) is signed, over the exact bytes sent;
- a request body with a ``site_key`` property gets the site's public key, and every
  request an allowed ``Origin``;
- an operation secured by the Django session (``cookieAuth``) gets a merchandiser's
  session, through a schemathesis auth provider (so that the checks that drop
  authentication know which part it is);
- a well-formed ``occurred_at`` becomes "now" (events older than 72 h are refused: a
  bound relative to now, which a schema cannot state).

A credential the generated case leaves out (a negative case: a missing required header)
stays out. Every built-in check runs except ``positive_data_acceptance``: much of what the
API refuses with a 400 cannot be said in a schema (a grant token that exists, an amount
exact in the event's currency, a start date before the end date), so schema-valid input
is often rightly refused.

The numbers of examples are bounded (``MAX_EXAMPLES`` per operation and mode) to keep
the run well under a minute; ``derandomize`` makes every run try the same inputs, so a
failure is reproducible rather than flaky.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cartassist.client import signed_headers
from cartassist.core.roles import groups_ensure
from cartassist.models import Site

pytestmark = pytest.mark.django_db

ORIGIN = "https://shop.example"
# As production sees requests (SECURE_SSL_REDIRECT would redirect plain HTTP).
BEHIND_TLS_PROXY = {"X-Forwarded-Proto": "https"}
SIGNING_HEADERS = ("X-CartAssist-Key", "X-CartAssist-Timestamp", "X-CartAssist-Signature")
# Per operation and mode; CARTASSIST_FUZZ_EXAMPLES=500 for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("CARTASSIST_FUZZ_EXAMPLES", "50"))


@dataclass
class Credentials:
    site: Site
    session_key: str

    def apply(self, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
        """Make ``case`` authentic for whatever its operation declares."""
        case.headers = {**(case.headers or {}), "Origin": ORIGIN, **BEHIND_TLS_PROXY}
        if _body_has_site_key(case) and isinstance(case.body, dict):
            case.body = {**case.body, "site_key": self.site.public_key}
        if isinstance(case.body, dict | list):
            case.body = _recent_times(case.body)
        signing = [name for name in SIGNING_HEADERS if _declares_header(case, name)]
        if signing:
            # Only the headers the case carries: one left out on purpose (a negative case)
            # stays out, and must be refused.
            present = {name.lower() for name in case.headers}
            body = _wire_body(case)
            kwargs["data"] = body  # exactly the bytes signed
            valid = signed_headers(
                site_key=self.site.public_key, secret=self.site.secret, message=body
            )
            case.headers = {
                **case.headers,
                **{name: value for name, value in valid.items() if name.lower() in present},
            }


def _recent_times(value: Any) -> Any:
    """Every well-formed ``occurred_at`` becomes "now": the API refuses events older than
    CARTASSIST_MAX_EVENT_AGE, a bound relative to now that a schema cannot state, and
    positive cases should get past it to reach the code behind. Malformed values (the
    negative cases) are left as they are."""
    if isinstance(value, list):
        return [_recent_times(item) for item in value]
    if not isinstance(value, dict):
        return value
    recent = {key: _recent_times(item) for key, item in value.items()}
    occurred_at = value.get("occurred_at")
    if isinstance(occurred_at, str) and _is_aware_datetime(occurred_at):
        recent["occurred_at"] = timezone.now().isoformat()
    return recent


def _is_aware_datetime(text: str) -> bool:
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return False
    return parsed is not None and parsed.tzinfo is not None


def _declares_header(case: schemathesis.Case, name: str) -> bool:
    return any(
        parameter.get("in") == "header" and parameter.get("name", "").lower() == name.lower()
        for parameter in case.operation.definition.raw.get("parameters", [])
    )


def _body_has_site_key(case: schemathesis.Case) -> bool:
    content = case.operation.definition.raw.get("requestBody", {}).get("content", {})
    resolver_schema = case.operation.schema.raw_schema
    for media in content.values():
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            schema = resolver_schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        if "site_key" in schema.get("properties", {}):
            return True
    return False


def _wire_body(case: schemathesis.Case) -> bytes:
    """The request body as it goes on the wire (and so as it must be signed)."""
    if isinstance(case.body, NotSet):
        return b""
    if isinstance(case.body, bytes):
        return case.body
    if case.media_type == "text/plain" and isinstance(case.body, str):
        return case.body.encode()
    return json.dumps(case.body).encode()


_credentials: Credentials | None = None


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: Any) -> None:
    if _credentials is not None:
        _credentials.apply(case, kwargs)


@pytest.fixture
def credentials(settings: Any) -> Iterator[Credentials]:
    global _credentials
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    site = Site.objects.create(name="Fuzzed shop", allowed_origins=[ORIGIN])
    merchandiser = User.objects.create_user(username="fuzz-merchandiser", is_staff=True)
    merchandiser.groups.add(groups_ensure()["Merchandisers"])
    client = Client()
    client.force_login(merchandiser)
    _credentials = Credentials(site=site, session_key=client.cookies["sessionid"].value)
    yield _credentials
    _credentials = None


@pytest.fixture
def _in_process_requests() -> Iterator[None]:
    """Like Django's test client: requests served in this thread must not close the
    test's database connection (it holds the test transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded at collection, in-process: the schema exactly as /api/schema/ serves it.
# (schemathesis.pytest.from_fixture would load it per test, but does not work with
# pytest 9.2.)
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", WSGIHandler(), headers=BEHIND_TLS_PROXY
)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
)


@schema.auth(refresh_interval=None)
class DjangoSession:
    """The merchandiser's session for operations secured by ``cookieAuth``."""

    def get(self, case: Any, context: Any) -> str:
        return _credentials.session_key if _credentials is not None else ""

    def set(self, case: Any, data: str, context: Any) -> None:
        case.cookies = {**(case.cookies or {}), "sessionid": data}


@schema.parametrize()
@settings(
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        # The site and session are meant to last for every generated input.
        HealthCheck.function_scoped_fixture,
    ],
)
@pytest.mark.usefixtures("credentials", "_in_process_requests")
def test_every_operation_answers_as_its_schema_says(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


# --- the hooks themselves: a fuzz run whose credentials were all refused would prove little


@pytest.mark.usefixtures("credentials", "_in_process_requests")
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/server/events", dict.fromkeys(SIGNING_HEADERS, "placeholder")),
        ("/api/v1/widget/events", {}),
    ],
)
def test_the_hooks_make_a_valid_batch_authentic(path: str, headers: dict[str, str]) -> None:
    # given: a batch the schema allows, with placeholder credentials
    body: dict[str, Any] = {
        "events": [
            {
                "id": "evt-1",
                "type": "checkout_step",
                "occurred_at": "2020-01-01T00:00:00Z",
                "cart_id": "cart-1",
                "visitor_id": "v-1",
                "data": {"step": "contact"},
            }
        ]
    }
    if path.startswith("/api/v1/widget/"):
        body["site_key"] = "pk_placeholder"
    case = schema[path]["POST"].Case(body=body, headers=headers, media_type="application/json")
    # when
    response = case.call()
    # then
    assert (response.status_code, response.json()) == (200, {"stored": ["evt-1"], "duplicates": []})
