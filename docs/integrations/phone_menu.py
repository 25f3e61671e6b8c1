"""A phone menu (IVR) that recognises callers CartAssist reached out to — a sample.

Standard library only. Wire ``say`` and ``ask`` to your telephony platform (a TwiML or
VoiceXML handler, an Asterisk AGI script…); run it here to try it in a terminal:

    CARTASSIST_URL=https://cartassist.example CARTASSIST_KEY=pk_… CARTASSIST_SECRET=… \\
        python phone_menu.py +49301234567 call-0001

1. Look the caller up by their number (signed POST, so the number stays out of logs).
2. If CartAssist reached out to them recently, speak the lookup's ``summary`` and offer
   the choice: "1" it answered my question, "2" an agent.
3. Report the call as a follow-up contact with its resolution: ``self_served`` (deflected)
   or ``agent``. The contact id is the call's id, so a retry never counts twice.

docs/integrations/helpdesk.md explains each step; docs/API.md the endpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def signed_post(base_url: str, key: str, secret: str, path: str, payload: dict[str, Any]) -> Any:
    """POST ``payload`` as JSON, signed with the site secret (docs/API.md); the answer."""
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    request = urllib.request.Request(  # noqa: S310 - the shop's own CartAssist URL
        base_url.rstrip("/") + path,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-CartAssist-Key": key,
            "X-CartAssist-Timestamp": timestamp,
            "X-CartAssist-Signature": "v1=" + mac.hexdigest(),
        },
    )
    with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310
        return json.load(response)


def lookup_summary(base_url: str, key: str, secret: str, phone: str) -> str | None:
    """The summary of the caller's most recent outreach, or None (unknown caller, no
    recent outreach, or CartAssist not answering in time: never block the menu)."""
    try:
        answer = signed_post(base_url, key, secret, "/api/v1/server/outreach", {"phone": phone})
    except (OSError, ValueError):
        return None
    outreach = answer.get("outreach") or []
    return outreach[0]["summary"] if outreach else None


def report_call(
    base_url: str, key: str, secret: str, *, call_id: str, phone: str, resolution: str
) -> dict[str, Any]:
    """Report the call as a follow-up contact, with how it ended."""
    return signed_post(
        base_url,
        key,
        secret,
        "/api/v1/server/follow-ups",
        {
            "id": call_id,
            "phone": phone,
            "channel": "phone",
            "reason": "needed_confirmation",
            "occurred_at": datetime.now(UTC).isoformat(),
            "resolution": resolution,
        },
    )


def phone_menu(
    base_url: str,
    key: str,
    secret: str,
    *,
    caller: str,
    call_id: str,
    say: Callable[[str], None],
    ask: Callable[[str], str],
) -> str:
    """Run the menu for one call; returns ``"self_served"``, ``"agent"`` or
    ``"main_menu"`` (not a caller CartAssist reached out to: your usual menu)."""
    summary = lookup_summary(base_url, key, secret, caller)
    if summary is None:
        return "main_menu"
    say(summary)
    choice = ask("If that answers your question, press 1. To speak to someone, press 2.")
    resolution = "self_served" if choice.strip() == "1" else "agent"
    say("Thank you, goodbye." if resolution == "self_served" else "Connecting you now.")
    # Reporting must never drop the call; report it later from your call log instead.
    with contextlib.suppress(OSError, ValueError):
        report_call(base_url, key, secret, call_id=call_id, phone=caller, resolution=resolution)
    return resolution


if __name__ == "__main__":
    result = phone_menu(
        os.environ["CARTASSIST_URL"],
        os.environ["CARTASSIST_KEY"],
        os.environ["CARTASSIST_SECRET"],
        caller=sys.argv[1],
        call_id=sys.argv[2],
        say=print,
        ask=input,
    )
    print(f"[{result}]")  # noqa: T201 - a terminal demo
