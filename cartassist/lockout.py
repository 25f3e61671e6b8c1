"""The answer to a login form whose username + address is locked out (django-axes).

Both login forms (``/console/login/`` and ``/admin/login/``) are guarded by django-axes
(settings: AXES_*, docs/OPERATIONS.md "Login lockout"); axes calls this instead of running
the form when the pair is locked, also when the password is right.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def login_locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """429 with a page that says what happened, for how long, and who can lift it."""
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    response = render(
        request,
        "cartassist/login_locked_out.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": minutes,
            "login_url": request.path,
        },
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    return response
