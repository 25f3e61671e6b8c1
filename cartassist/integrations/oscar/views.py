"""``POST <prefix>/grants/apply``: the page hands over a grant the widget received.

Body (JSON or form): ``{"token": "<grant token>"}``; the CSRF token in ``X-CSRFToken``.
The token is verified with CartAssist (never trusted from the browser), checked against
this basket, turned into an Oscar voucher and added to the basket. Answers:

- 200 ``{"applied": true, "created": bool, "added": bool, "voucher_code", "kind",
  "amount", "currency", "basket_total"}`` — ``created`` is false when the grant was
  applied before (the widget hands the same grant to every page until it is used),
  ``added`` true when the voucher was put into the basket now (reload the totals);
- 400 ``{"errors": {"token": [...]}}`` — no token, or CartAssist refused it as malformed;
- 409 ``{"code", "detail"}`` — ``no_basket``, ``other_cart``, ``currency_changed``,
  ``expired``, ``redeemed``, ``invalid`` or ``applied_elsewhere``;
- 422 ``{"code": "unsupported_kind", …}`` — a grant this integration cannot express;
- 503 ``{"code": "unavailable", …}`` — CartAssist could not be reached.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from cartassist.client import ApiError, ClientError, GrantInfo

from .conf import get_config
from .events import basket_subtotal, money
from .identity import cart_id
from .tracking import fresh_basket
from .transport import get_client
from .vouchers import SUPPORTED_KINDS, GrantElsewhere, apply_grant

logger = logging.getLogger("cartassist.integrations.oscar")


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def _token(request: HttpRequest) -> str:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return ""
        value = body.get("token") if isinstance(body, dict) else None
    else:
        value = request.POST.get("token")
    return value.strip() if isinstance(value, str) else ""


def _refusal(info: GrantInfo, basket: Any) -> JsonResponse | None:
    if info.redeemed:
        return _error(409, "redeemed", "This offer was already used.")
    if not info.valid:
        return _error(409, info.status, "This offer can no longer be applied.")
    if info.cart_id != cart_id(basket.id):
        return _error(409, "other_cart", "This offer was made for another basket.")
    if info.currency != basket.currency:
        return _error(409, "currency_changed", "This offer is in another currency.")
    if info.kind not in SUPPORTED_KINDS:
        return _error(422, "unsupported_kind", f"Offers of kind {info.kind} are not supported.")
    return None


def _verify(token: str) -> GrantInfo | JsonResponse:
    try:
        return get_client(get_config()).grant_verify(token)
    except ApiError as error:
        if error.status < 500 and error.status != 429:
            errors = {"token": [error.detail or "CartAssist refused this grant token."]}
            return JsonResponse({"errors": errors, "code": error.code or ""}, status=400)
        logger.warning("CartAssist could not verify a grant: %s", error)
    except ClientError as error:
        logger.warning("CartAssist could not verify a grant: %s", error)
    return _error(503, "unavailable", "The offer could not be checked just now; try again.")


@require_POST
def apply_grant_view(request: HttpRequest) -> JsonResponse:
    token = _token(request)
    if not token:
        return JsonResponse({"errors": {"token": ["This field is required."]}}, status=400)
    basket = request.basket  # type: ignore[attr-defined]
    if not basket.id or basket.is_empty:
        return _error(409, "no_basket", "Your basket is empty.")
    info = _verify(token)
    if isinstance(info, JsonResponse):
        return info
    refused = _refusal(info, basket)
    if refused is not None:
        return refused
    try:
        applied = apply_grant(info, token, basket, sender=apply_grant_view)
    except GrantElsewhere:
        return _error(409, "applied_elsewhere", "This offer is applied to another basket.")
    totals = fresh_basket(request, basket.id)
    return JsonResponse(
        {
            "applied": True,
            "created": applied.created,
            "added": applied.added,
            "voucher_code": applied.grant.voucher.code,
            "kind": info.kind,
            "amount": None if info.amount is None else str(info.amount),
            "currency": info.currency,
            "basket_total": money(basket_subtotal(totals), totals.currency),
        }
    )
