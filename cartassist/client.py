"""A Python client for CartAssist's signed server API — standard library only.

For any Python shop backend (Django, Flask, FastAPI, a worker…): it imports no Django, no
Celery and no third-party HTTP library, so ``import cartassist.client`` is cheap and safe
anywhere. Documentation: docs/integrations/python-client.md; the HTTP contract it speaks:
docs/API.md, docs/POLICIES.md ("For shops") and docs/WEBHOOKS.md.

    from cartassist.client import CartAssistClient, Event

    client = CartAssistClient(base_url="https://ca.example", site_key="pk_…", secret="sk_…")
    client.send_events([Event(type="checkout_step", cart_id="c-1", visitor_id="v-1",
                              data={"step": "shipping"})])

Every request is signed anew (a signature is accepted once), retried on timeouts, refused
connections, 429 and 5xx with exponential back-off and jitter (honouring ``Retry-After``),
and never retried on another 4xx, which raises :class:`ApiError` with the server's errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, Final

__all__ = [
    "EVENT_TYPES",
    "ApiError",
    "CartAssistClient",
    "ClientError",
    "Event",
    "FollowUpResult",
    "GrantInfo",
    "GrantRedemption",
    "SendResult",
    "SignatureError",
    "TransportError",
    "request_target",
    "sign",
    "signed_headers",
    "verify_webhook",
]

#: The event types of docs/API.md ("Events"); ``data`` per type is documented there.
EVENT_TYPES: Final = frozenset(
    {
        "cart_updated",
        "checkout_step",
        "shipping_quoted",
        "payment_failed",
        "coupon_rejected",
        "order_completed",
        "opted_out",
    }
)
#: The server's largest batch (``CARTASSIST_MAX_BATCH_EVENTS``, default 100).
DEFAULT_BATCH_SIZE: Final = 100
#: Longest wait between two attempts, whatever the back-off or ``Retry-After`` says.
MAX_RETRY_DELAY_SECONDS: Final = 60.0
USER_AGENT: Final = "CartAssist-Python-Client/1"
_RETRY_STATUSES: Final = frozenset({429}) | frozenset(range(500, 600))


# --- errors ----------------------------------------------------------------------------


class ClientError(Exception):
    """Anything that went wrong talking to CartAssist (base class of this module's errors).

    ``partial``: set by :meth:`CartAssistClient.send_events` to what the batches before the
    failing one stored (they stay stored; re-sending them is safe).
    """

    partial: SendResult | None = None


class TransportError(ClientError):
    """No HTTP answer: a timeout, a refused connection, DNS or TLS — after every retry."""


class ApiError(ClientError):
    """CartAssist answered with an error status (docs/API.md, "Errors").

    ``status`` is the HTTP status, ``detail`` the human message, ``errors`` the field errors
    (``{"events": {"1": {"data": {"fee": ["…"]}}}}``), ``code`` the machine code of the
    grant endpoints (``already_redeemed``, ``expired``…), ``body`` the parsed body (or the
    raw text when it was not JSON), ``retry_after`` the server's ``Retry-After`` seconds.
    """

    def __init__(
        self,
        status: int,
        body: Any,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.retry_after = retry_after
        parsed = body if isinstance(body, dict) else {}
        self.detail: str = str(parsed.get("detail") or body or "")
        self.errors: dict[str, Any] = (
            parsed["errors"] if isinstance(parsed.get("errors"), dict) else {}
        )
        code = parsed.get("code")
        self.code: str | None = code if isinstance(code, str) else None
        errors = f" {self.errors}" if self.errors else ""
        super().__init__(f"HTTP {status}: {self.detail}{errors}")


class SignatureError(ClientError):
    """A webhook delivery whose signature or timestamp does not check out: refuse it (401)."""


# --- signing ---------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, message: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, "<timestamp>." + message)>`` (docs/API.md).

    ``message`` is the raw body of a POST, or the :func:`request_target` of a GET.
    """
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + message, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def request_target(method: str, path: str) -> bytes:
    """What a request without a body signs: ``b"GET /api/v1/…?…"`` (path as sent)."""
    return f"{method.upper()} {path}".encode()


def signed_headers(
    *, site_key: str, secret: str, message: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three ``X-CartAssist-*`` headers of a signed server request.

    ``timestamp`` defaults to now (Unix seconds). Remember a signature is accepted once:
    sign every request, retries included, anew.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-CartAssist-Key": site_key,
        "X-CartAssist-Timestamp": ts,
        "X-CartAssist-Signature": sign(secret, ts, message),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header from any mapping: exact, any case, or WSGI ``HTTP_…`` style."""
    value = headers.get(name)
    if value is None:
        wanted = {name.lower(), "http_" + name.lower().replace("-", "_")}
        value = next((v for k, v in headers.items() if k.lower() in wanted), "")
    return str(value)


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a webhook delivery from CartAssist and return its parsed body.

    ``body``: the raw request body (bytes, before any parsing). ``headers``: the request's
    headers (``request.headers`` in Django/Flask; a WSGI environ works too). ``secret``:
    the site secret, or several (current and previous, during a secret rotation).
    Raises :class:`SignatureError` when the timestamp is missing or more than
    ``tolerance`` seconds from now, or no secret gives the signature.
    De-duplicate on the returned ``id`` (= ``CartAssist-Delivery``) yourself.
    """
    timestamp = _header(headers, "CartAssist-Timestamp")
    signature = _header(headers, "CartAssist-Signature")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("CartAssist-Timestamp is missing or not Unix seconds.")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise SignatureError(f"CartAssist-Timestamp is more than {tolerance} s from now.")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not signature.isascii() or not any(
        hmac.compare_digest(sign(key, timestamp, body), signature) for key in secrets if key
    ):
        raise SignatureError("CartAssist-Signature does not match the body.")
    try:
        payload = json.loads(body, parse_float=Decimal)
    except ValueError as error:
        raise SignatureError("The signed body is not JSON.") from error
    if not isinstance(payload, dict):
        raise SignatureError("The signed body is not a JSON object.")
    return payload


# --- values ----------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes sent to CartAssist must be timezone-aware")
        return _iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(payload: object) -> bytes:
    if _has_float(payload):
        raise ValueError("money and numbers go to CartAssist as Decimal or str, never float")
    return json.dumps(payload, default=_json_default, separators=(",", ":")).encode()


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, Mapping):
        return any(_has_float(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_float(item) for item in value)
    return False


def _datetime(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _now() -> datetime:
    return datetime.now(UTC)


def _event_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Event:
    """One cart event (docs/API.md, "Events"). ``id`` is fixed at creation (a uuid4), so
    every retry re-sends the same id and CartAssist stores the event once.

    ``data`` per type — amounts as ``Decimal`` or decimal strings, never floats:
    ``cart_updated`` {currency, subtotal, lines: [{sku, name, quantity, unit_price,
    category?}]}, ``checkout_step`` {step: contact|shipping|payment}, ``shipping_quoted``
    {currency, fee, method?}, ``payment_failed`` {reason?}, ``coupon_rejected`` {code},
    ``order_completed`` {order_id, currency, total}, ``opted_out`` {}.
    """

    type: str
    cart_id: str
    visitor_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=_now)
    customer_id: str | None = None
    event_id: str = field(default_factory=_event_id)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}; one of {sorted(EVENT_TYPES)}")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware (UTC or with an offset)")
        if _has_float(self.data):
            raise ValueError("event data must not contain floats: use Decimal or str amounts")

    @property
    def id(self) -> str:
        return self.event_id

    def as_json(self) -> dict[str, Any]:
        """The event as the API takes it."""
        payload: dict[str, Any] = {
            "id": self.event_id,
            "type": self.type,
            "occurred_at": _iso(self.occurred_at),
            "cart_id": self.cart_id,
            "visitor_id": self.visitor_id,
            "data": dict(self.data),
        }
        if self.customer_id:
            payload["customer_id"] = self.customer_id
        return payload


@dataclass(frozen=True)
class SendResult:
    """What :meth:`CartAssistClient.send_events` did: ids stored now, ids already stored."""

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    requests: int = 0

    def merged(self, other: SendResult) -> SendResult:
        return SendResult(
            stored=self.stored + other.stored,
            duplicates=self.duplicates + other.duplicates,
            requests=self.requests + other.requests,
        )


@dataclass(frozen=True)
class GrantInfo:
    """A grant as ``POST /api/v1/server/grants/verify`` describes it (docs/POLICIES.md).

    Apply ``kind`` (``waive_delivery``, ``reduce_delivery``, ``discount``, ``free_gift``,
    ``hold_stock``) with ``amount`` in ``currency`` only when ``valid`` and ``cart_id`` is
    the cart being checked out.
    """

    id: str
    valid: bool
    kind: str
    amount: Decimal | None
    currency: str
    cart_id: str
    expires_at: datetime | None
    redeemed: bool
    order_id: str

    @property
    def remedy(self) -> str:
        """The remedy to apply (the grant's ``kind``)."""
        return self.kind

    @property
    def status(self) -> str:
        """``redeemed``, ``valid``, ``expired`` or ``invalid`` (e.g. the cart's currency
        changed since the grant was issued)."""
        if self.redeemed:
            return "redeemed"
        if self.valid:
            return "valid"
        if self.expires_at is not None and self.expires_at <= _now():
            return "expired"
        return "invalid"

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> GrantInfo:
        return cls(**_grant_fields(body))


@dataclass(frozen=True)
class GrantRedemption(GrantInfo):
    """The result of ``POST /api/v1/server/grants/redeem``: the grant, now redeemed for
    ``order_id``; ``replayed`` is true when it had been redeemed for this order (or this
    idempotency key) before — nothing changed this time."""

    replayed: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> GrantRedemption:
        return cls(**_grant_fields(body), replayed=bool(body.get("replayed", False)))


def _grant_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(body.get("grant_id", "")),
        "valid": bool(body["valid"]),
        "kind": str(body["kind"]),
        "amount": _decimal(body.get("amount")),
        "currency": str(body["currency"]),
        "cart_id": str(body["cart_id"]),
        "expires_at": _datetime(body.get("expires_at")),
        "redeemed": bool(body["redeemed"]),
        "order_id": str(body.get("order_id") or ""),
    }


@dataclass(frozen=True)
class FollowUpResult:
    """``POST /api/v1/server/follow-ups``: ``duplicate`` when the id was reported before;
    ``intervention_id`` the outreach the contact is credited to (or None)."""

    id: str
    duplicate: bool
    intervention_id: int | None


# --- the client ------------------------------------------------------------------------


@dataclass
class _Response:
    status: int
    body: Any
    headers: Message


class _Signer:
    """Signs so that no two requests of this client share a signature.

    The timestamp has whole seconds: the same message signed twice in one second gives the
    same signature, which the server refuses as a replay. Then wait for the next second.
    """

    def __init__(self, site_key: str, secret: str) -> None:
        self.site_key = site_key
        self.secret = secret
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}

    def headers(self, message: bytes) -> dict[str, str]:
        digest = hashlib.sha256(message).hexdigest()
        with self._lock:  # reserve a second no earlier request of this message used
            now = int(time.time())
            timestamp = max(now, self._used.get(digest, now - 1) + 1)
            self._used = {key: ts for key, ts in self._used.items() if ts >= now - 1}
            self._used[digest] = timestamp
        wait = timestamp - time.time()
        if wait > 0:  # at most a second, and only for a repeat within the same second
            time.sleep(wait)
        return signed_headers(
            site_key=self.site_key, secret=self.secret, message=message, timestamp=timestamp
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are answered as errors: urllib would re-send a POST as a bodiless GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class CartAssistClient:
    """A client of one CartAssist site's signed server API. Thread-safe.

    ``base_url``: where CartAssist runs (``https://ca.example``). ``site_key`` and
    ``secret``: the site's public key and secret (admin → Sites). ``timeout``: seconds per
    attempt. ``max_retries``: retries after the first attempt on timeouts, connection
    errors, 429 and 5xx. ``backoff``: the first retry's delay in seconds, doubled for each
    further retry, with ±50 % jitter, at least the server's ``Retry-After``.
    ``batch_size``: events per request (the server's ``CARTASSIST_MAX_BATCH_EVENTS``).
    ``sleep``: how to wait between attempts (tests may record instead of waiting).
    """

    def __init__(
        self,
        *,
        base_url: str,
        site_key: str,
        secret: str,
        timeout: float = 5.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        batch_size: int = DEFAULT_BATCH_SIZE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with https:// (or http:// for development)")
        if not 1 <= batch_size <= DEFAULT_BATCH_SIZE:
            raise ValueError(f"batch_size must be 1–{DEFAULT_BATCH_SIZE}")
        if max_retries < 0 or timeout <= 0 or backoff < 0:
            raise ValueError("timeout must be positive, max_retries and backoff not negative")
        self.base_url = base_url.rstrip("/")
        self.site_key = site_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.batch_size = batch_size
        self._sleep = sleep
        self._signer = _Signer(site_key, secret)
        self._queue: list[Event] = []
        self._queue_lock = threading.Lock()

    # -- events ------------------------------------------------------------------------

    def send_events(self, events: Iterable[Event]) -> SendResult:
        """Post events, ``batch_size`` a request; return the stored and duplicate ids.

        Events already stored come back as ``duplicates``: re-sending is always safe. On an
        error the chunks before it are stored; the exception's ``partial`` says which.
        """
        pending = list(events)
        result = SendResult()
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start : start + self.batch_size]
            try:
                response = self._request(
                    "POST",
                    "/api/v1/server/events",
                    {"events": [event.as_json() for event in chunk]},
                )
                if not isinstance(response.body.get("stored"), list):
                    raise ApiError(response.status, response.body)  # not CartAssist's answer
            except ClientError as error:
                error.partial = result
                raise
            result = result.merged(
                SendResult(
                    stored=list(response.body["stored"]),
                    duplicates=list(response.body.get("duplicates", [])),
                    requests=1,
                )
            )
        return result

    def queue(self, event: Event) -> SendResult | None:
        """Add an event to the in-memory batch; sends it (:meth:`flush`) once it holds
        ``batch_size`` events and returns that result, else None. When it sends, it
        raises like :meth:`flush`."""
        with self._queue_lock:
            self._queue.append(event)
            full = len(self._queue) >= self.batch_size
        return self.flush() if full else None

    def flush(self) -> SendResult:
        """Send every queued event. On an error they stay queued for the next flush."""
        with self._queue_lock:
            events, self._queue = self._queue, []
        try:
            return self.send_events(events)
        except ClientError:
            with self._queue_lock:
                self._queue[:0] = events  # same ids: already stored ones come back duplicates
            raise

    @property
    def queued(self) -> int:
        """How many events wait for :meth:`flush`."""
        with self._queue_lock:
            return len(self._queue)

    def __enter__(self) -> CartAssistClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    # -- grants ------------------------------------------------------------------------

    def grant_verify(self, token: str) -> GrantInfo:
        """Check a grant token from the storefront without using it up."""
        response = self._request("POST", "/api/v1/server/grants/verify", {"token": token})
        return GrantInfo.from_json(response.body)

    def grant_redeem(
        self, token: str, *, order_id: str, idempotency_key: str | None = None
    ) -> GrantRedemption:
        """Redeem a grant for an order, once. Idempotent per order (and per
        ``idempotency_key``): a retry returns the first result with ``replayed=True``.
        Refusals raise :class:`ApiError` with ``code`` ``already_redeemed`` (409),
        ``currency_changed`` (409), ``expired`` (410) or ``invalid_token`` (403/400)."""
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self._request(
            "POST",
            "/api/v1/server/grants/redeem",
            {"token": token, "order_id": order_id},
            extra_headers=extra,
        )
        return GrantRedemption.from_json(response.body)

    # -- follow-ups and outcomes -------------------------------------------------------

    def follow_up_report(
        self,
        *,
        id: str,
        channel: str,
        reason: str,
        occurred_at: datetime,
        customer_id: str | None = None,
        visitor_id: str | None = None,
        note: str = "",
    ) -> FollowUpResult:
        """Report a helpdesk contact after outreach (docs/API.md). ``channel``: email,
        phone, chat, social, other; ``reason``: needed_confirmation, checking_genuine,
        unresolved, other. Reporting the same ``id`` again is a no-op (``duplicate``)."""
        if not customer_id and not visitor_id:
            raise ValueError("send customer_id, visitor_id or both")
        payload: dict[str, Any] = {
            "id": id,
            "channel": channel,
            "reason": reason,
            "occurred_at": occurred_at,
        }
        if customer_id:
            payload["customer_id"] = customer_id
        if visitor_id:
            payload["visitor_id"] = visitor_id
        if note:
            payload["note"] = note
        body = self._request("POST", "/api/v1/server/follow-ups", payload).body
        return FollowUpResult(
            id=str(body["id"]),
            duplicate=bool(body["duplicate"]),
            intervention_id=body.get("intervention_id"),
        )

    def helpdesk_queue_report(
        self, *, open_contacts: int, capacity_override: int | None = None
    ) -> dict[str, Any]:
        """Report the helpdesk's live queue for pacing (docs/integrations/helpdesk.md,
        "4. Live queue"): contacts waiting now and, optionally, the contacts it absorbs
        in the current hour instead of the admin's grid. Returns the stored report."""
        payload: dict[str, Any] = {"open_contacts": open_contacts}
        if capacity_override is not None:
            payload["capacity_override"] = capacity_override
        return dict(self._request("POST", "/api/v1/server/helpdesk/queue", payload).body)

    def intervention(self, intervention_id: int | str) -> dict[str, Any]:
        """One intervention's outcome (docs/API.md, "Intervention outcomes"); numbers as
        Decimal or int, amounts as decimal strings, exactly as the server sends them."""
        path = f"/api/v1/server/interventions/{urllib.parse.quote(str(intervention_id), safe='')}"
        body: dict[str, Any] = self._request("GET", path).body
        return body

    def cart_interventions(self, cart_id: str) -> list[dict[str, Any]]:
        """Every intervention on one of your carts, newest first."""
        path = f"/api/v1/server/carts/{urllib.parse.quote(cart_id, safe='')}/interventions"
        interventions: list[dict[str, Any]] = self._request("GET", path).body["interventions"]
        return interventions

    # -- transport ---------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        payload: object = None,
        *,
        extra_headers: Mapping[str, str] | None = None,
    ) -> _Response:
        body = None if method == "GET" else _dumps(payload)
        attempt = 0
        while True:
            try:
                response = self._attempt(method, path, body, extra_headers or {})
            except TransportError:
                if attempt >= self.max_retries:
                    raise
                self._sleep(self._delay(attempt, None))
                attempt += 1
                continue
            if 200 <= response.status < 300:
                if not isinstance(response.body, dict):  # not CartAssist (a proxy's page?)
                    raise ApiError(response.status, response.body)
                return response
            retry_after = _retry_after(response.headers)
            if response.status not in _RETRY_STATUSES or attempt >= self.max_retries:
                raise ApiError(response.status, response.body, retry_after=retry_after)
            self._sleep(self._delay(attempt, retry_after))
            attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self.backoff * 2.0**attempt * random.uniform(0.5, 1.5)
        return min(MAX_RETRY_DELAY_SECONDS, max(delay, retry_after or 0.0))

    def _attempt(
        self, method: str, path: str, body: bytes | None, extra: Mapping[str, str]
    ) -> _Response:
        # Signed per attempt: a signature is accepted once (docs/API.md).
        message = body if body is not None else request_target(method, path)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **extra}
        if body is not None:
            headers["Content-Type"] = "application/json"
        headers.update(self._signer.headers(message))
        # base_url is checked to be http(s) in __init__.
        request = urllib.request.Request(  # noqa: S310
            self.base_url + path, data=body, method=method, headers=headers
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as answer:
                return _Response(answer.status, _parse(answer.read()), answer.headers)
        except urllib.error.HTTPError as error:
            with error:
                return _Response(error.code, _parse(error.read()), error.headers)
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            raise TransportError(f"{method} {path}: {error}") from error


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_float=Decimal) if raw else {}
    except ValueError:
        return raw.decode("utf-8", "replace")


def _retry_after(headers: Message) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - _now()).total_seconds())
    except (TypeError, ValueError):
        return None
